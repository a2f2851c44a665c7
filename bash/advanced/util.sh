# shellcheck shell=bash
# shellcheck disable=SC2034 # KUBECTL_REQUEST is used by the other files
# Small helpers every part of the controller uses: logging, clocks, kubectl.

# log MESSAGE...: one line on stderr, with the time and the part of the controller that speaks.
log() {
  printf '%(%Y-%m-%dT%H:%M:%S)T %s: %s\n' -1 "${LOG_NAME:-staticsite-controller}" "$*" >&2
}

# now_us: the wall clock in microseconds, in REPLY (EPOCHREALTIME needs no process; LC_ALL=C keeps its
# decimal point a dot).
now_us() {
  REPLY=${EPOCHREALTIME/./}
}

# rfc3339_now: the time now as Kubernetes writes a metav1.Time, in REPLY (UTC, seconds).
rfc3339_now() {
  TZ=UTC printf -v REPLY '%(%Y-%m-%dT%H:%M:%SZ)T' -1
}

# micro_time_now: the time now as a metav1.MicroTime (a Lease's acquireTime and renewTime), in REPLY.
micro_time_now() {
  local now=$EPOCHREALTIME
  TZ=UTC printf -v REPLY '%(%Y-%m-%dT%H:%M:%S)T.%sZ' "${now%.*}" "${now#*.}"
}

# seconds_text MICROSECONDS: "1.250000", in REPLY.
seconds_text() {
  printf -v REPLY '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000))
}

# kubectl_command: KUBECTL, the kubectl invocation with the connection flags of the command line, and
# KUBECTL_REQUEST, the same for one request, ended after 60 s.
#
# No --request-timeout: any such override makes kubectl's configuration differ from its default, and then
# kubectl no longer falls back to the in-cluster configuration when there is no kubeconfig (it tries
# localhost:8080 instead). `timeout --foreground` bounds the request instead, and stays in the controller's
# process group (plain `timeout` makes a group of its own, which a SIGKILL of the controller's group would
# miss).
kubectl_command() {
  KUBECTL=(kubectl --cache-dir="$RUN/kubectl-cache")
  if [[ -n $KUBECONFIG_PATH ]]; then KUBECTL+=(--kubeconfig="$KUBECONFIG_PATH"); fi
  if [[ -n $CONTEXT ]]; then KUBECTL+=(--context="$CONTEXT"); fi
  KUBECTL_REQUEST=(timeout --foreground 60 "${KUBECTL[@]}")
}

# first_line FILE: the first line of a file (kubectl's error), in REPLY.
first_line() {
  REPLY=""
  if [[ -s $1 ]]; then IFS= read -r REPLY <"$1" || true; fi
}
