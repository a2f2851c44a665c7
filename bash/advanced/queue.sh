# shellcheck shell=bash
# The work queue (Python: queue.py): de-duplicated keys, never one key in two workers at once, per-key
# exponential backoff after failures, a periodic resync; and the workers that take keys from it.
#
# One process, the dispatcher (queue_run), owns the queue; everything else talks to it with one-line
# messages on the FIFO $RUN/queue.fifo (lines shorter than PIPE_BUF are written atomically, so any number of
# writers may share it):
#   add KEY                              an informer saw a change of the site KEY (NS/NAME)
#   add-namespace NS                     the registry of NS changed and may hold a stray key: every cached
#                                        site of NS that can hold a key (one line, not one per site)
#   done WORKER KEY success|error MICROSECONDS   a worker finished KEY
#   start                                the caches have synced: hand out keys
#   stop                                 hand out no more keys; exit once in-flight reconciles finish
# The dispatcher hands a key to an idle worker on that worker's FIFO, $RUN/worker.N.fifo ("key KEY", or
# "exit"). It also owns the metrics (endpoints.sh: metrics_render), since every reconcile's result passes through it.
#
# The queue's semantics are client-go's workqueue: a key added while queued is dropped (the dirty set); a
# key added while a worker processes it is queued again when the worker is done, never handed to a second
# worker; a failed key comes back after 5 ms, 10 ms, 20 ms, ... at most 60 s; a success forgets its failures.

QUEUE_BASE_DELAY_MS=5
QUEUE_MAX_DELAY_MS=60000
RESYNC_SECONDS=600

# queue_init: an empty queue.
queue_init() {
  QUEUE_ITEMS=()
  QUEUE_HEAD=0
  QUEUE_TAIL=0
  QUEUE_PARTIAL=""
  declare -gA QUEUE_DIRTY=() QUEUE_PROCESSING=() QUEUE_FAILURES=() QUEUE_WAITING=()
}

# queue_add KEY: queue KEY unless it is already queued; while a worker has it, only mark it dirty.
queue_add() {
  # exercise: queue-dedup begin
  [[ -n ${QUEUE_DIRTY[$1]+x} ]] && return 0
  QUEUE_DIRTY[$1]=1
  [[ -n ${QUEUE_PROCESSING[$1]+x} ]] && return 0
  QUEUE_ITEMS[QUEUE_TAIL++]=$1
  # exercise: queue-dedup end
}

# queue_len: the number of keys waiting for a worker, in REPLY.
queue_len() {
  REPLY=$((QUEUE_TAIL - QUEUE_HEAD))
}

# queue_pop: the oldest queued key, in REPLY, now processing; returns 1 when the queue is empty.
queue_pop() {
  ((QUEUE_HEAD < QUEUE_TAIL)) || return 1
  REPLY=${QUEUE_ITEMS[QUEUE_HEAD]}
  unset -v 'QUEUE_ITEMS[QUEUE_HEAD]'
  ((QUEUE_HEAD += 1))
  unset -v 'QUEUE_DIRTY[$REPLY]'
  QUEUE_PROCESSING[$REPLY]=1
}

# queue_done KEY: a worker is finished with KEY; if it changed meanwhile, it is queued again.
queue_done() {
  unset -v 'QUEUE_PROCESSING[$1]'
  if [[ -n ${QUEUE_DIRTY[$1]+x} ]]; then
    QUEUE_ITEMS[QUEUE_TAIL++]=$1
  fi
}

# queue_backoff_ms FAILURES: the delay before retrying a key that failed FAILURES times before this
# failure, in REPLY: 5 ms * 2^FAILURES, at most 60 s.
queue_backoff_ms() {
  local failures=$1
  if ((failures >= 14)); then # 5 ms * 2^14 > 60 s (and no overflow for large counts)
    REPLY=$QUEUE_MAX_DELAY_MS
  else
    REPLY=$((QUEUE_BASE_DELAY_MS << failures))
    ((REPLY > QUEUE_MAX_DELAY_MS)) && REPLY=$QUEUE_MAX_DELAY_MS
  fi
  return 0
}

# queue_add_rate_limited KEY NOW_US: KEY failed; add it again after its backoff.
queue_add_rate_limited() {
  local key=$1 now=$2 failures=${QUEUE_FAILURES[$1]:-0} due
  queue_backoff_ms "$failures"
  QUEUE_FAILURES[$key]=$((failures + 1))
  due=$((now + REPLY * 1000))
  # Already waiting: the earlier time wins.
  if [[ -z ${QUEUE_WAITING[$key]+x} ]] || ((due < QUEUE_WAITING[$key])); then
    QUEUE_WAITING[$key]=$due
  fi
}

# queue_forget KEY: KEY succeeded; its next failure starts the backoff again.
queue_forget() {
  unset -v 'QUEUE_FAILURES[$1]'
}

# queue_promote NOW_US: add the waiting keys whose time has come.
queue_promote() {
  local key
  for key in "${!QUEUE_WAITING[@]}"; do
    if ((QUEUE_WAITING[$key] <= $1)); then
      unset -v 'QUEUE_WAITING[$key]'
      queue_add "$key"
    fi
  done
}

# queue_next_due: the earliest time a waiting key is due, in REPLY (empty: none waits).
queue_next_due() {
  local key
  REPLY=""
  for key in "${!QUEUE_WAITING[@]}"; do
    if [[ -z $REPLY ]] || ((QUEUE_WAITING[$key] < REPLY)); then REPLY=${QUEUE_WAITING[$key]}; fi
  done
}

# queue_resync: add every site in the cache (the periodic safety net).
queue_resync() {
  local directory
  for directory in "$RUN/cache/$SITE_RESOURCE"/*/; do
    directory=${directory%/}
    [[ -d $directory ]] && queue_add_namespace "${directory##*/}" all
  done
  return 0
}

# queue_add_namespace NAMESPACE [all]: add every cached site of NAMESPACE that can hold a registry key (an
# informer asks after a registry change), or every one (`all`: the resync). The namespace becomes a path:
# checked first, as a DNS-1123 label (an informer sent it; this is the last gate).
queue_add_namespace() {
  local file name
  [[ $1 =~ $NAMESPACE_PATTERN ]] || return 0
  for file in "$RUN/cache/$SITE_RESOURCE/$1"/*.json; do
    [[ -e $file ]] || continue
    name=${file##*/}
    name=${name%.json}
    if [[ ${2:-} == all ]] || is_dns_1035_label "$name"; then queue_add "$1/$name"; fi
  done
}

# queue_handle_result KEY success|error: the error policy, in this one place (a reconcile only says whether
# it failed): a success forgets the key's failures, a failure queues it again after its backoff; either
# way the worker is done with it.
queue_handle_result() {
  if [[ $2 == success ]]; then
    queue_forget "$1"
  else
    now_us
    queue_add_rate_limited "$1" "$REPLY"
  fi
  queue_done "$1"
}

# queue_read_message FD SECONDS: the next whole message (a line) from the FIFO FD, in REPLY, waiting at most
# SECONDS for it; returns 1 when no whole line came in time. `read -t` takes a pipe a byte at a time, and when
# the time runs out between two bytes (a loaded machine can stop the dispatcher right there) it returns with
# the bytes it took: read again, the rest would be a line of its own and the message lost (an "add" never
# queued, a "done" that never frees its worker). So the bytes of a cut line are kept, in QUEUE_PARTIAL, and
# begin the next message.
queue_read_message() {
  local part=""
  if IFS= read -r -t "$2" -u "$1" part; then
    REPLY=$QUEUE_PARTIAL$part
    QUEUE_PARTIAL=""
    return 0
  fi
  QUEUE_PARTIAL+=$part
  return 1
}

# queue_run: the dispatcher process (see the top of this file). Runs until a "stop" message and the end of
# the in-flight reconciles, or until the manager is gone.
queue_run() {
  # shellcheck disable=SC2034 # read by log (util.sh)
  LOG_NAME=queue
  trap - EXIT
  trap '' INT TERM # stopped by the "stop" message, so in-flight reconciles finish
  queue_init
  metrics_init
  local input fd i now timeout started=false stopping=false busy=0 next_resync command first second third fourth
  local -a worker_fds=() idle=()
  exec {input}<>"$RUN/queue.fifo"
  for ((i = 0; i < WORKERS; i++)); do
    exec {fd}<>"$RUN/worker.$i.fifo"
    worker_fds[i]=$fd
    idle+=("$i")
  done
  now_us
  next_resync=$((REPLY + RESYNC_SECONDS * 1000000))
  while :; do
    now_us
    now=$REPLY
    queue_promote "$now"
    if ((now >= next_resync)); then
      queue_resync
      next_resync=$((now + RESYNC_SECONDS * 1000000))
    fi
    if $started && ! $stopping; then
      while ((${#idle[@]} > 0)) && queue_pop; do
        i=${idle[-1]}
        unset -v 'idle[-1]'
        printf 'key %s\n' "$REPLY" >&"${worker_fds[i]}"
        ((busy += 1))
      done
    fi
    queue_len
    metrics_queue_depth "$REPLY"
    if $stopping && ((busy == 0)); then
      for fd in "${worker_fds[@]}"; do printf 'exit\n' >&"$fd"; done
      break
    fi
    # Sleep until the next message, the next due key, the resync, or a look at the manager (2 s).
    timeout=$((now + 2000000))
    ((next_resync < timeout)) && timeout=$next_resync
    queue_next_due
    [[ -n $REPLY ]] && ((REPLY < timeout)) && timeout=$REPLY
    timeout=$((timeout - now))
    ((timeout < 1000)) && timeout=1000 # `read -t 0` would not wait at all
    seconds_text "$timeout"
    if ! queue_read_message "$input" "$REPLY"; then
      if ! kill -0 "$MANAGER_PID" 2>/dev/null; then stopping=true; fi # orphaned: stop
      continue
    fi
    while :; do
      IFS=' ' read -r command first second third fourth <<<"$REPLY"
      case $command in
        add) queue_add "$first" ;;
        add-namespace) queue_add_namespace "$first" ;;
        done) # done WORKER KEY RESULT MICROSECONDS
          idle+=("$first")
          busy=$((busy - 1))
          metrics_observe "$third" "$fourth"
          queue_handle_result "$second" "$third"
          ;;
        start) started=true ;;
        stop) stopping=true ;;
      esac
      # Take every message already there before handing out keys and writing the metrics again.
      read -r -t 0 -u "$input" || break
      queue_read_message "$input" 1 || break
    done
  done
}

# worker_run N: worker N reconciles the keys the dispatcher hands it, one at a time, each in a subshell (so a
# reconcile cannot change the worker's state), and reports the result and the duration. Its planner (a jq,
# reconciler.sh) lives as long as the worker.
worker_run() {
  local id=$1 fd queue command key started result
  # shellcheck disable=SC2034 # read by log (util.sh)
  LOG_NAME="worker $id"
  trap - EXIT
  trap '' INT TERM # an in-flight reconcile finishes; the dispatcher says when to exit
  WORKDIR=$RUN/worker.$id
  # shellcheck disable=SC2034 # read by the reconciler (planner_start, event_send)
  WORKER_ID=$id
  mkdir -p "$WORKDIR"
  exec {fd}<>"$RUN/worker.$id.fifo"
  exec {queue}<>"$RUN/queue.fifo"
  planner_start
  while IFS=' ' read -r -u "$fd" command key; do
    [[ $command == key ]] || break
    planner_alive || planner_start
    now_us
    started=$REPLY
    if (reconcile "$key"); then result=success; else result=error; fi
    now_us
    printf 'done %s %s %s %s\n' "$id" "$key" "$result" $((REPLY - started)) >&"$queue"
  done
  planner_stop
}
