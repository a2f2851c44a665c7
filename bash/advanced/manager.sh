# shellcheck shell=bash
# The manager (Python: manager.py, Go: manager.go): the wiring and the process lifecycle: the API proxy, the
# endpoints, leader election, starting the informers, the queue and the workers, watching over them, and the
# orderly shutdown. The flags are options.sh's, the endpoints endpoints.sh's, the Lease leader.sh's.
#
# The processes, all in the controller's own process group (so `kill -KILL -PGID` ends every one of them):
#   the manager (this shell): the Lease, watching over the others, signals
#   kubectl proxy: every API request goes through it (api.sh), on a unix socket in $RUN
#   socat x 2: the HTTP endpoints, running endpoints.sh for each request
#   the dispatcher (queue_run, queue.sh) and WORKERS workers (worker_run), each running curl and jq
#   4 informers (informer_run, informer.sh), each running one curl and one jq at a time
# They share $RUN, a private temporary directory (mode 0700) removed at exit: the cache, the FIFOs, the
# proxy's socket, the state files.

INFORMER_RESOURCES=(staticsites configmaps deployments services)

# ----- the controller ----------------------------------------------------------------------------------------

# start_controller: the dispatcher, the workers and the informers. The dispatcher hands out no key before
# the informers have synced (wait_synced sends it "start").
start_controller() {
  local i resource
  mkfifo "$RUN/queue.fifo"
  for ((i = 0; i < WORKERS; i++)); do mkfifo "$RUN/worker.$i.fifo"; done
  exec {QUEUE_FD}<>"$RUN/queue.fifo"
  queue_run &
  DISPATCHER_PID=$!
  WORKER_PIDS=()
  for ((i = 0; i < WORKERS; i++)); do
    worker_run "$i" &
    WORKER_PIDS+=("$!")
  done
  INFORMER_PIDS=()
  for resource in "${INFORMER_RESOURCES[@]}"; do
    mkdir -p "$RUN/cache/$resource"
    informer_run "$resource" "$NAMESPACE" &
    INFORMER_PIDS+=("$!")
  done
}

# synced: every informer has listed once.
synced() {
  local resource
  for resource in "${INFORMER_RESOURCES[@]}"; do
    [[ -e $RUN/state/synced.$resource ]] || return 1
  done
}

# components_alive: the dispatcher, the workers and the informers all run.
components_alive() {
  local pid
  for pid in "$DISPATCHER_PID" "${WORKER_PIDS[@]}" "${INFORMER_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || return 1
  done
}

# require_api_proxy: the API proxy runs; else every request would fail from now on, so the controller stops
# with one line and exit 1 (whoever runs it restarts it: no loop of failing requests here).
require_api_proxy() {
  kill -0 "$API_PROXY_PID" 2>/dev/null && return 0
  log "error: the API proxy (kubectl proxy) ended; stopping"
  shutdown 1
}

# pause SECONDS: sleep without a process: read times out on a FIFO that only on_signal writes to, so a
# signal ends the pause at once.
pause() {
  read -r -t "$1" -u "$PAUSE_FD" _ || true
}

# ----- stopping ------------------------------------------------------------------------------------------------

# on_signal NAME: SIGTERM or SIGINT: stop (the main loop sees STOPPING) and end a pause at once.
on_signal() {
  if [[ $STOPPING == false ]]; then log "stopping on $1"; fi
  STOPPING=true
  if [[ -n ${PAUSE_FD:-} ]]; then printf 'wake\n' >&"$PAUSE_FD"; fi
}

# stop_pids TIMEOUT_SECONDS PID...: wait for the processes to end, SIGKILL those left after TIMEOUT. The
# Lease is renewed meanwhile: until the in-flight reconciles are done this process still writes.
stop_pids() {
  local deadline=$((EPOCHSECONDS + $1)) pid
  shift
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && ((EPOCHSECONDS < deadline)); do
      keep_lease
      pause 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
}

# shutdown CODE: 0 (SIGTERM, SIGINT): stop watching, let the in-flight reconciles finish, give the Lease up,
# exit 0. 1 (an error): end every process of ours at once (kill_descendants), exit 1.
shutdown() {
  local code=$1
  if ((code != 0)); then
    kill_descendants
    set_leader 0
    exit "$code"
  fi
  if ((${#INFORMER_PIDS[@]} > 0)); then
    kill -TERM "${INFORMER_PIDS[@]}" 2>/dev/null
    stop_pids 5 "${INFORMER_PIDS[@]}"
  fi
  if [[ -n $DISPATCHER_PID ]]; then
    printf 'stop\n' >&"$QUEUE_FD"
    stop_pids 25 "$DISPATCHER_PID" "${WORKER_PIDS[@]}"
  fi
  set_leader 0
  if $LEADER_ELECT; then
    kill -0 "$API_PROXY_PID" 2>/dev/null || api_proxy_start "$RUN" # (a SIGTERM of the whole group ended it)
    release_lease
  fi
  exit 0
}

# manager_cleanup: at exit, whatever the way: no process of ours outlives the manager, and $RUN goes.
manager_cleanup() {
  kill_descendants
  rm -rf "$RUN"
}

# kill_descendants: SIGKILL every process below the manager, leaving no orphan. Killing a worker first
# would orphan the reconcile it runs (re-parented to PID 1, out of sight of `descendants`, and still
# writing), and a process may fork while we look. So every process found is first stopped (SIGSTOP: a
# stopped process cannot fork), the tree is read again until it holds no new one, and only then are they
# all killed.
kill_descendants() {
  local pid found=true
  local -A stopped=()
  while $found; do
    found=false
    descendants $$
    for pid in "${REPLY_PIDS[@]}"; do
      [[ -z ${stopped[$pid]+x} ]] || continue
      stopped[$pid]=1
      found=true
      kill -STOP "$pid" 2>/dev/null
    done
  done
  if ((${#stopped[@]} > 0)); then kill -KILL "${!stopped[@]}" 2>/dev/null; fi
  wait 2>/dev/null
}

# descendants PID: the pids of every process below PID (children, their children, ...), in REPLY_PIDS,
# from /proc (no ps needed).
descendants() {
  local stat line pid parent queue=("$1") child
  local -A children=()
  for stat in /proc/[0-9]*/stat; do
    IFS= read -r line 2>/dev/null <"$stat" || continue
    pid=${line%% *}
    line=${line##*) } # after "(command) ", which may hold spaces: "STATE PPID ..."
    line=${line#* }
    parent=${line%% *}
    children[$parent]+=" $pid"
  done
  REPLY_PIDS=()
  while ((${#queue[@]} > 0)); do
    for child in ${children[${queue[0]}]:-}; do
      REPLY_PIDS+=("$child")
      queue+=("$child")
    done
    queue=("${queue[@]:1}")
  done
}

# remove_stale_run_directories: the private directories of controllers that were killed (SIGKILL leaves no
# chance to clean up): ours, with the pid of a process that is gone.
remove_stale_run_directories() {
  local directory pid
  for directory in "${TMPDIR:-/tmp}"/staticsite-controller.*; do
    [[ -O $directory && -f $directory/pid ]] || continue
    read -r pid <"$directory/pid" || continue
    if [[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then rm -rf "$directory"; fi
  done
}

# fail MESSAGE: log and exit 1.
fail() {
  log "error: $1"
  exit 1
}

# ----- main ----------------------------------------------------------------------------------------------------

# require_commands: the programs the controller runs are installed.
require_commands() {
  local command missing=()
  for command in kubectl curl jq socat flock sha256sum base64 mkfifo; do
    command -v "$command" >/dev/null || missing+=("$command")
  done
  ((${#missing[@]} == 0)) ||
    fail "missing: ${missing[*]} (kubectl, and from Debian: curl jq socat util-linux coreutils)"
}

# check_configuration: kubectl has a configuration (a kubeconfig, else the in-cluster one), and it verifies
# TLS. Without any configuration kubectl would quietly try http://localhost:8080; with
# `insecure-skip-tls-verify: true` it would send the controller's token to whoever answers, so it is refused
# (the setting is read as data by jq; `config view` without --raw leaves the credentials out). It runs
# before the API proxy starts: the proxy would honour the setting too.
check_configuration() {
  local insecure
  KUBECTL=(kubectl --cache-dir="$RUN/kubectl-cache")
  if [[ -n $KUBECONFIG_PATH ]]; then KUBECTL+=(--kubeconfig="$KUBECONFIG_PATH"); fi
  if [[ -n $CONTEXT ]]; then KUBECTL+=(--context="$CONTEXT"); fi
  if "${KUBECTL[@]}" config view --minify -o json >"$RUN/config.json" 2>"$RUN/config.err"; then
    insecure=$(jq -r '.clusters[0].cluster["insecure-skip-tls-verify"] == true' "$RUN/config.json")
    [[ $insecure == false ]] ||
      fail "TLS verification is turned off in the kubeconfig (insecure-skip-tls-verify: true); refusing to connect without it"
    return 0
  fi
  in_cluster_possible && return 0 # bash/lib/kube.sh
  first_line "$RUN/config.err"
  fail "no usable kubeconfig and no in-cluster configuration: ${REPLY:-none found}"
}

main() {
  options_parse "$@"
  require_commands
  # shellcheck disable=SC2034 # the informers and the dispatcher watch it
  MANAGER_PID=$$
  STOPPING=false
  INFORMER_PIDS=() WORKER_PIDS=() DISPATCHER_PID=""
  lease_clock_reset
  remove_stale_run_directories
  RUN=$(mktemp -d "${TMPDIR:-/tmp}/staticsite-controller.XXXXXX") || exit 1
  trap manager_cleanup EXIT
  printf '%s\n' "$$" >"$RUN/pid"
  trap 'on_signal SIGTERM' TERM
  trap 'on_signal SIGINT' INT
  mkdir -p "$RUN/state" "$RUN/cache" "$RUN/kubectl-cache"
  mkfifo "$RUN/pause.fifo"
  exec {PAUSE_FD}<>"$RUN/pause.fifo"
  check_configuration
  api_proxy_start "$RUN" || fail "the API proxy (kubectl proxy) did not start: ${REPLY:-no reason given}"
  # shellcheck disable=SC2034 # read by reconcile_plan
  IDENTITY_JSON=$(jq -n --arg identity "$IDENTITY" '$identity') # for the planners' requests
  metrics_init
  metrics_render
  metrics_write "$REPLY"
  set_leader 0
  set_ready false
  start_endpoints
  log "starting: namespace ${NAMESPACE:-(all)}, $WORKERS workers, identity $IDENTITY"

  if $LEADER_ELECT; then
    set_ready true # a standby is ready
    log "waiting for the Lease $LEADER_ELECTION_NAMESPACE/$LEADER_ELECTION_ID"
    local refused=""
    until acquire_lease; do
      # Why a take-over failed (a 403: the RBAC lacks a verb), once per new reason, not at every retry.
      if [[ ${LEASE_ERROR:-held by another} != "held by another" && $LEASE_ERROR != "$refused" ]]; then
        log "could not take the Lease: $LEASE_ERROR"
      fi
      refused=${LEASE_ERROR:-}
      $STOPPING && shutdown 0
      require_api_proxy
      pause "$RETRY_PERIOD"
      $STOPPING && shutdown 0
    done
    log "leading: holding the Lease $LEADER_ELECTION_NAMESPACE/$LEADER_ELECTION_ID"
    set_ready false
  fi
  set_leader 1
  start_controller

  local started=false
  while ! $STOPPING; do
    if ! $started && synced; then
      printf 'start\n' >&"$QUEUE_FD"
      started=true
      set_ready true
      log "caches synced: reconciling"
    fi
    require_api_proxy
    if ! components_alive; then
      log "error: a part of the controller ended unexpectedly"
      shutdown 1
    fi
    keep_lease
    if $started; then pause_until_renewal; else pause 0.1; fi
  done
  shutdown 0
}
