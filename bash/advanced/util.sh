# shellcheck shell=bash
# Small helpers every part of the controller uses: logging, clocks, files.

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

# first_line FILE: the first line of a file (an error message), in REPLY.
first_line() {
  REPLY=""
  if [[ -s $1 ]]; then IFS= read -r REPLY <"$1" || true; fi
}
