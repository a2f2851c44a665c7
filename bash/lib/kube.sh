# shellcheck shell=bash
# Talking to the API server through kubectl: configuration, the namespace, paginated lists.
# Needs args.sh (the options), errors.sh and pods.sh.
#
# Every request is `kubectl get --raw PATH`: kubectl does what is hard to do well in Bash (finding and merging
# kubeconfig files, the in-cluster fallback, client certificates, tokens, exec plugins, TLS verification),
# and we build the API paths ourselves, so we choose exactly what is asked (page size, continue token, watch).

# make_workdir: a private temporary directory in WORK for kubectl's output; KUBECTL_ERR is where the last kubectl
# call left its stderr. When the script exits, for whatever reason, cleanup runs.
make_workdir() {
  WORK=$(mktemp -d)
  KUBECTL_ERR=$WORK/kubectl.err
  trap cleanup EXIT
}

# cleanup: ends the background processes still running and removes WORK.
cleanup() {
  stop_children
  rm -rf "$WORK"
}

# stop_children: ends every background process of this shell (kubectl, jq, sleep, a timer) and waits for them,
# so that none outlives the script.
stop_children() {
  local pids
  # mapfile, not word splitting: a trap may run inside a `while IFS=␟ read` loop, with that IFS.
  mapfile -t pids < <(jobs -p)
  if ((${#pids[@]} > 0)); then kill "${pids[@]}" 2>/dev/null || true; fi
  wait
}

# in_cluster_possible: kubectl's own test for using the pod's service account when no kubeconfig is found.
in_cluster_possible() {
  [[ -n ${KUBERNETES_SERVICE_HOST:-} && -n ${KUBERNETES_SERVICE_PORT:-} &&
    -f /var/run/secrets/kubernetes.io/serviceaccount/token ]]
}

# configure_kubectl: sets KUBECTL, the kubectl command with the connection flags the user gave, checks that
# kubectl has a configuration to use, and sets NAMESPACE, when neither -n nor -A was given, to the context's
# namespace, else "default". Dies with a kubeconfig error when there is no usable configuration, and with a TLS
# error when the configuration turns TLS verification off.
#
# We ask kubectl for the (minified) configuration even with -n or -A: with no kubeconfig at all kubectl quietly
# falls back to http://localhost:8080, and the user would see "connection refused" instead of the real problem.
# `config view` without --raw leaves the credentials out: we read only the namespace and the TLS setting.
configure_kubectl() {
  local view=$WORK/config.json context_namespace insecure
  KUBECTL=(kubectl)
  if [[ -n $KUBECONFIG_PATH ]]; then KUBECTL+=(--kubeconfig "$KUBECONFIG_PATH"); fi
  if [[ -n $CONTEXT ]]; then KUBECTL+=(--context "$CONTEXT"); fi

  if [[ -n $KUBECONFIG_PATH && ! -r $KUBECONFIG_PATH ]]; then
    die "error: cannot read kubeconfig \"$KUBECONFIG_PATH\""
  fi
  if ! "${KUBECTL[@]}" config view --minify -o json >"$view" 2>"$KUBECTL_ERR"; then
    in_cluster_possible || die "error: no usable kubeconfig: $(error_detail "$(<"$KUBECTL_ERR")")"
    echo '{}' >"$view" # in a pod, without a kubeconfig: no context, so the contract's default applies
  fi
  { read -r context_namespace && read -r insecure; } < <(
    jq -r '(.contexts[0].context.namespace // ""), (.clusters[0].cluster["insecure-skip-tls-verify"] == true)' "$view"
  )
  refuse_insecure "$insecure"
  if [[ $ALL_NAMESPACES == false && -z $NAMESPACE ]]; then
    NAMESPACE=${context_namespace:-default}
  fi
}

# refuse_insecure INSECURE: dies when INSECURE is "true", i.e. the cluster's entry in the kubeconfig says
# `insecure-skip-tls-verify: true`. kubectl would honour it and talk to whoever answers; the contract says TLS is
# always verified, so we refuse rather than send credentials to a server we cannot authenticate.
refuse_insecure() {
  if [[ $1 == true ]]; then
    die "error: TLS verification is turned off in the kubeconfig (insecure-skip-tls-verify: true); refusing to connect without it"
  fi
}

# run_interruptibly COMMAND...: runs COMMAND and returns its status. Bash delays a signal trap until the
# foreground command ends, but `wait` returns at once, so running it in the background and waiting lets
# watch-pods stop on SIGINT/SIGTERM even in the middle of a slow request.
run_interruptibly() {
  "$@" &
  wait "$!"
}

# How long one request may take, answer included (kubectl's --request-timeout: connecting, TLS and reading all
# count). Without it a server that accepts the connection and never answers would hang us forever.
REQUEST_TIMEOUT=30s

# kube_get PATH FILE: GET an API path into FILE. On failure, kubectl's stderr is in KUBECTL_ERR.
kube_get() {
  run_interruptibly "${KUBECTL[@]}" --request-timeout="$REQUEST_TIMEOUT" get --raw "$1" >"$2" 2>"$KUBECTL_ERR"
}

# list_pods ENTRY FILE: lists the pods of NAMESPACE matching SELECTOR into FILE, one line per pod made by the
# pods.jq definition ENTRY (list_entry or watch_entry), sorted by namespace, then name.
# Sets LIST_RESOURCE_VERSION, the resourceVersion of the list (where a watch must start).
# Returns 1, with kubectl's stderr in KUBECTL_ERR, when a request fails.
#
# The list is read page by page (limit=500, then the continue token): only one page of full pod objects exists
# at a time, on disk, and only the small entries are kept. `kubectl get pods -o json` would instead hold every
# pod of the answer in memory and print them as one big List.
list_pods() {
  # exercise: pagination begin
  local entry=$1 out=$2 page=$WORK/page.json unsorted=$WORK/unsorted token=""
  : >"$unsorted"
  while :; do
    kube_get "$(pods_url "$NAMESPACE" limit=500 "continue=$token" "labelSelector=$SELECTOR")" "$page" || return 1
    pods_jq ".items[] | $entry" "$page" >>"$unsorted"
    # shellcheck disable=SC2034 # LIST_RESOURCE_VERSION is a result, read by the caller
    { read -r token && read -r LIST_RESOURCE_VERSION; } < <(
      jq -r '.metadata | (.continue // ""), .resourceVersion' "$page"
    )
    [[ -n $token ]] || break
  done
  # Every entry starts with the namespace, then the name, each ending with a double quote. '"' sorts before
  # every character allowed in a Kubernetes name, so sorting whole lines byte by byte (LC_ALL=C) orders them by
  # namespace, then name ("a" before "a-b"), which is the contract's order.
  LC_ALL=C sort "$unsorted" >"$out"
  # exercise: pagination end
}
