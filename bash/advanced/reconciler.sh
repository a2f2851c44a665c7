# shellcheck shell=bash
# shellcheck disable=SC2016 # jq programs are single-quoted on purpose
# The reconciler (Python: reconciler.py): one reconcile of one site, SPEC.md's numbered steps. Needs util.sh.
#
# reconcile.jq decides from the informers' cache what to write and prints it as a plan, one write a line;
# this file carries the plan out with kubectl, in order, and stops at the first failed write (the error goes
# back to the queue, which retries the key with backoff: nothing is retried here). When the plan needs the
# API server's answer (a child missing from the cache, the objects an apply returned), jq plans the rest
# with that answer. A no-op reconcile is one question to the worker's planner (a jq that keeps running, see
# planner_start) and no request at all.

SITES_RESOURCE=staticsites.sites.example.com
REGISTRY_NAME=staticsite-registry
# A site key, NAMESPACE/NAME, before it becomes a cache path or a `-n` argument: a DNS-1123 label, then a
# DNS-1123 subdomain's characters (informer.jq checks names exactly; this is the last gate).
SITE_KEY_PATTERN='^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$'
# What the lookup may ask kubectl for (children.jq's lookup_target of a checked site name).
LOOKUP_TARGET_PATTERN='^(configmap|deployment[.]apps|service)/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$'
# The content hash memo, "UID GENERATION HASH", before it goes into a planner request.
MEMO_PATTERN='^[-.0-9A-Za-z_]+ [0-9]+ [0-9a-f]{64}$'

# reconcile KEY: reconcile the site KEY (NS/NAME). Runs in a subshell of a worker; WORKDIR is the worker's
# scratch directory. Returns 1 when the key must be retried; a key that is no site key is logged and
# dropped (retrying cannot make it one).
reconcile() {
  local key=$1
  if [[ ! $key =~ $SITE_KEY_PATTERN ]]; then
    log "ignoring the queue key ${key@Q}: not NAMESPACE/NAME"
    return 0
  fi
  local namespace=${key%%/*} name=${key#*/}
  local site=$RUN/cache/staticsites/$namespace/$name.json
  [[ -f $site ]] || return 0 # 1. gone: its finalizer already cleaned up
  local hash="" now
  rfc3339_now
  now=$REPLY
  reconcile_plan main "$WORKDIR/plan.main" || return 1
  reconcile_execute "$WORKDIR/plan.main"
}

# ----- the planner ---------------------------------------------------------------------------------------------
# Each worker keeps one jq running (planner_start), reading requests on the FIFO $RUN/planner.N.in and
# answering on $RUN/planner.N.out: jq 1.6 takes some 25 ms of CPU to start, more than a whole plan.

# planner_start: (re)start the worker's planner; PLANNER_IN and PLANNER_OUT are the worker's ends.
planner_start() {
  local fifo=$RUN/planner.$WORKER_ID
  if [[ -n ${PLANNER_PID:-} ]]; then
    kill "$PLANNER_PID" 2>/dev/null
    wait "$PLANNER_PID" 2>/dev/null
    exec {PLANNER_IN}>&- {PLANNER_OUT}<&-
  fi
  [[ -p $fifo.in ]] || mkfifo "$fifo.in" "$fifo.out"
  # Opened read-write, so no open blocks whichever side comes first; a planner that died is noticed by
  # planner_alive and the answer's timeout instead of an end of file.
  exec {PLANNER_IN}<>"$fifo.in" {PLANNER_OUT}<>"$fifo.out"
  jq --unbuffered -nrj -L "$ADVANCED_DIR" 'include "reconcile"; planner' <"$fifo.in" >"$fifo.out" &
  PLANNER_PID=$!
}

# planner_alive: the planner runs.
planner_alive() {
  [[ -n ${PLANNER_PID:-} ]] && kill -0 "$PLANNER_PID" 2>/dev/null
}

# json_file FILE: the file's JSON (the cache writes one compact line) in REPLY; null when there is none.
json_file() {
  REPLY=""
  if [[ $1 != /dev/null ]]; then IFS= read -r -d '' REPLY 2>/dev/null <"$1"; fi # (gone meanwhile: null)
  [[ -n $REPLY ]] || REPLY=null
  return 0
}

# documents_file FILE: kubectl's -o json output (an object, a List, or nothing) as a JSON array, in REPLY.
documents_file() {
  REPLY=""
  if [[ -n $1 && $1 != /dev/null && -s $1 ]]; then IFS= read -r -d '' REPLY <"$1"; fi
  REPLY="[$REPLY]"
  return 0
}

# cached RESOURCE NAME: the cache file of an object of the site's namespace, or /dev/null, in REPLY.
cached() {
  REPLY=$RUN/cache/$1/$namespace/$2.json
  [[ -f $REPLY ]] || REPLY=/dev/null
}

# cached_site_names: the names of the sites of the namespace in the cache, a JSON array, in REPLY (the
# registry's keys must be exactly those; reconcile.jq removes the others). The cache's file names are DNS-1123
# subdomains: informer.jq checks a name before it becomes a path.
cached_site_names() {
  local -a names=("$RUN/cache/staticsites/$namespace"/*.json)
  REPLY="[]"
  [[ -e ${names[0]} ]] || return 0
  names=("${names[@]##*/}")
  printf -v REPLY '"%s",' "${names[@]%.json}"
  REPLY="[${REPLY%,}]"
}

# reconcile_plan PHASE OUT [LIVE_FILE LOOKED_UP [APPLIED_FILE [REFUSED_FILE]]]: ask the planner (reconcile.jq)
# for the plan of PHASE; the plan lines go to the file OUT. For phase main, `hash` is set to the content hash.
# REFUSED_FILE holds kubectl's stderr of a failed apply as a JSON string (phase refused).
reconcile_plan() {
  local phase=$1 out=$2 request site_json configmap deployment service registry live applied refused suffix
  local memo=""
  local memo_file=$RUN/hash/$namespace/$name header id id_read length text attempt part sites
  cached configmaps "$name-content" && json_file "$REPLY" && configmap=$REPLY
  cached deployments "$name" && json_file "$REPLY" && deployment=$REPLY
  cached services "$name" && json_file "$REPLY" && service=$REPLY
  cached configmaps "$REGISTRY_NAME" && json_file "$REPLY" && registry=$REPLY
  json_file "$site" && site_json=$REPLY
  documents_file "${3:-}" && live=$REPLY
  documents_file "${5:-}" && applied=$REPLY
  cached_site_names && sites=$REPLY
  json_file "${6:-/dev/null}" && refused=$REPLY
  printf -v suffix '%x' $((${EPOCHREALTIME/./} * 1000)) # event names: the time in nanoseconds, in hex
  for attempt in 1 2; do
    [[ $phase == main && -f $memo_file ]] && IFS= read -r memo <"$memo_file"
    [[ $memo =~ $MEMO_PATTERN ]] || memo=""
    id="$BASHPID.$attempt.$phase"
    # The cached objects go in as they are (compact JSON); the strings are checked words (names, checked
    # lookup targets, hex, a time), never free text.
    printf -v request '{"id":"%s","phase":"%s","site":%s,"configmap":%s,"deployment":%s,"service":%s,' \
      "$id" "$phase" "$site_json" "$configmap" "$deployment" "$service"
    printf -v part '"registry":%s,"live":%s,"applied":%s,"refused":%s,"looked_up":"%s","hash":"%s","memo":"%s",' \
      "$registry" "$live" "$applied" "$refused" "${4:-}" "$hash" "$memo"
    request+=$part
    printf -v part '"now":"%s","event_suffix":"%s","identity":%s,"sites":%s}' "$now" "$suffix" "$IDENTITY_JSON" \
      "$sites"
    request+=$part
    printf '%s\n' "$request" >&"$PLANNER_IN" || return 1
    # The answer: PLAN ID LENGTH, then LENGTH bytes; an answer to another request (of a reconcile that
    # failed half-way) is skipped.
    while :; do
      if ! IFS=' ' read -r -t 60 -u "$PLANNER_OUT" header id_read length; then
        log "reconcile $key: the planner did not answer"
        return 1
      fi
      text=""
      if ((length > 0)); then IFS= read -r -N "$length" -t 60 -u "$PLANNER_OUT" text || return 1; fi
      [[ $header == PLAN && $id_read == "$id" ]] && break
    done
    if [[ $text != hash$'\t'* ]]; then
      printf '%s' "$text" >"$out"
      [[ $phase == main && -n $memo ]] && hash=${memo##* }
      return 0
    fi
    content_hash_memo "${text#hash$'\t'}" "$memo_file" || return 1
  done
  log "reconcile $key: no content hash"
  return 1
}

# content_hash_memo "UID GENERATION BASE64" MEMO_FILE: hash the decoded bytes, keep "UID GENERATION HASH".
content_hash_memo() {
  local request=${1%$'\n'} bytes sum
  # The shortest prefix up to the second space: `${request##* }` (the longest) would try every prefix of up
  # to a megabyte and a half of base64, which takes Bash minutes (quadratic).
  bytes=${request#* * }
  sum=$(printf '%s' "$bytes" | base64 -d | sha256sum) || return 1
  [[ -d ${2%/*} ]] || mkdir -p "${2%/*}"
  printf '%s %s\n' "${request:0:${#request}-${#bytes}-1}" "${sum%% *}" >"$2.$BASHPID" && mv -f "$2.$BASHPID" "$2"
}

# kube ARGS...: one kubectl request; its stderr is kept in $WORKDIR/err (first_line reads it).
kube() {
  "${KUBECTL_REQUEST[@]}" "$@" 2>"$WORKDIR/err"
}

# failed WHAT: log the reconcile error with kubectl's message; returns 1.
failed() {
  local status=$?
  first_line "$WORKDIR/err"
  if [[ -z $REPLY && $status == 124 ]]; then REPLY="no answer within 60 s"; fi
  log "reconcile $key: $1: ${REPLY:-failed}"
  return 1
}

# kube_error_is REASON: kubectl's last error was "Error from server (REASON)".
kube_error_is() {
  first_line "$WORKDIR/err"
  [[ $REPLY == *"($1)"* ]]
}

# reconcile_execute PLAN_FILE [LIVE_FILE LOOKED_UP]: carry out a plan, line by line.
reconcile_execute() {
  local plan verb first second third live=${2:-} looked_up=${3:-}
  exec {plan}<"$1"
  while IFS=$'\t' read -r -u "$plan" verb first second third; do
    if [[ -n ${STATICSITE_DEBUG:-} ]]; then log "reconcile $key: $verb ${first:0:300}"; fi
    case $verb in
      finalizer-add) # 3. the finalizer first, carrying the resourceVersion: a conflict is a retry
        kube patch "$SITES_RESOURCE" "$name" -n "$namespace" --type=merge -p "$first" -o name >/dev/null ||
          failed "adding the finalizer" || return 1
        ;;
      registry-remove) # 2. a deleted site leaves the registry; a missing registry or key counts as removed
        kube patch configmap "$REGISTRY_NAME" -n "$namespace" --type=merge -p "$first" -o name >/dev/null ||
          kube_error_is NotFound || failed "removing the registry key" || return 1
        ;;
      finalizer-remove)
        kube patch "$SITES_RESOURCE" "$name" -n "$namespace" --type=merge -p "$first" -o name >/dev/null ||
          kube_error_is NotFound || failed "removing the finalizer" || return 1
        ;;
      registry-add) # 5. merge patches, so two workers never overwrite each other's keys
        registry_add "$first" "$second" "$third" || failed "adding the registry key" || return 1
        ;;
      lookup) # 6. children absent from the cache (or different there): are they there, whose, and how?
        lookup_targets "$first" || return 1
        kube get "${REPLY_TARGETS[@]}" -n "$namespace" -o json --ignore-not-found >"$WORKDIR/live" ||
          failed "looking up the children" || return 1
        reconcile_plan children "$WORKDIR/plan.children" "$WORKDIR/live" "$first" || return 1
        reconcile_execute "$WORKDIR/plan.children" "$WORKDIR/live" "$first" || return 1
        ;;
      apply) # 7. server-side apply of the missing or drifted children, then the Synced event
        if ! kube apply --server-side --field-manager=staticsite-controller --force-conflicts --validate=false \
          -o json -f - <<<"$first" >"$WORKDIR/applied"; then
          child_refused || failed "applying the children" || return 1
          # A child the API server refuses as invalid (422): the spec asks for what cannot be. InvalidSpec, like
          # an invalid name, and no retry (it would be refused the same). That plan replaces the rest of this one.
          reconcile_refused "$live" "$looked_up" || return 1
          break
        fi
        event_send "$second"
        ;;
      restatus) # 8. after an apply: the status from what the API server returned
        reconcile_plan status "$WORKDIR/plan.status" "${live:-/dev/null}" "$looked_up" "$WORKDIR/applied" || return 1
        reconcile_execute "$WORKDIR/plan.status" || return 1
        ;;
      status) # 8. through the status subresource, only when it changed
        # (A merge patch with `kubectl patch --subresource=status` first GETs the status, which the RBAC does
        # not allow; a server-side apply of the status is a single PATCH.)
        kube apply --server-side --subresource=status --field-manager=staticsite-controller --force-conflicts \
          --validate=false -o name -f - <<<"$first" >/dev/null || failed "writing the status" || return 1
        ;;
      event)
        event_send "$first"
        ;;
      error)
        log "reconcile $key: $first"
        return 1
        ;;
    esac
  done
  exec {plan}<&-
}

# lookup_targets "configmap/NAME deployment.apps/NAME ...": the targets as separate arguments, each checked,
# in REPLY_TARGETS (an array, never an unquoted expansion: no word splitting or globbing of names).
lookup_targets() {
  local target
  IFS=' ' read -r -a REPLY_TARGETS <<<"$1"
  for target in "${REPLY_TARGETS[@]}"; do
    if [[ ! $target =~ $LOOKUP_TARGET_PATTERN ]]; then
      log "reconcile $key: refusing to look up ${target@Q}"
      return 1
    fi
  done
  ((${#REPLY_TARGETS[@]} > 0))
}

# child_refused: kubectl's last error says the API server refused one of the children as invalid (422), which
# kubectl prints as `The KIND "NAME" is invalid: ...`.
child_refused() {
  local line
  while IFS= read -r line; do
    [[ $line =~ ^The\ (ConfigMap|Deployment|Service)\ \".*\"\ is\ invalid: ]] && return 0
  done <"$WORKDIR/err"
  return 1
}

# reconcile_refused LIVE_FILE LOOKED_UP: plan and carry out the InvalidSpec report of a refused child, from
# kubectl's stderr (encoded as a JSON string by jq: it is data, never pasted into the request).
reconcile_refused() {
  jq -Rs . "$WORKDIR/err" >"$WORKDIR/refused" || return 1
  reconcile_plan refused "$WORKDIR/plan.refused" "${1:-/dev/null}" "$2" /dev/null "$WORKDIR/refused" || return 1
  reconcile_execute "$WORKDIR/plan.refused"
}

# Events are written in the background, so a slow or refusing events API never holds a reconcile (SPEC: an
# event "never fails or blocks a reconcile"): event_send starts one kubectl for the event and returns. A
# kubectl is a process of some 40 MB, so each worker has EVENT_WRITERS slots (directories made with mkdir,
# which is atomic): an event that finds every slot of its worker taken (the events API has been slow for a
# while) is dropped with a log line, as the other languages' recorders drop events when their queue is full.
# Each write is bounded by EVENT_TIMEOUT seconds (`timeout --foreground`: it stays in the controller's
# process group, so it ends with the controller too).
EVENT_WRITERS=2
EVENT_TIMEOUT=10

# event_send EVENT: create the core/v1 Event (JSON) in the background; log and drop it when no slot is free.
event_send() {
  local slot
  for ((slot = 1; slot <= EVENT_WRITERS; slot++)); do
    if mkdir "$RUN/event-writer.$WORKER_ID.$slot" 2>/dev/null; then
      event_write "$1" "$RUN/event-writer.$WORKER_ID.$slot" </dev/null >/dev/null &
      return 0
    fi
  done
  log "reconcile $key: dropping an event: $EVENT_WRITERS events of this worker are still being written"
}

# event_write EVENT SLOT: write the event, log a failure, free the slot.
event_write() {
  local error
  if ! error=$(timeout --foreground "$EVENT_TIMEOUT" "${KUBECTL[@]}" create --raw \
    "/api/v1/namespaces/$namespace/events" -f - <<<"$1" 2>&1 >/dev/null); then
    [[ -n $error ]] || error="no answer within $EVENT_TIMEOUT s"
    log "reconcile $key: writing an event: ${error%%$'\n'*}"
  fi
  rmdir "$2"
}

# registry_add PATCH OBJECT create|patch: put the site's key in the namespace's registry: patch it, or create
# it when the cache has none; if the registry turns out to exist (or not), the other way.
registry_add() {
  local path="/api/v1/namespaces/$namespace/configmaps"
  if [[ $3 == patch ]]; then
    kube patch configmap "$REGISTRY_NAME" -n "$namespace" --type=merge -p "$1" -o name >/dev/null && return 0
    kube_error_is NotFound || return 1
    kube create --raw "$path" -f - <<<"$2" >/dev/null
  else
    kube create --raw "$path" -f - <<<"$2" >/dev/null && return 0
    kube_error_is AlreadyExists || return 1
    kube patch configmap "$REGISTRY_NAME" -n "$namespace" --type=merge -p "$1" -o name >/dev/null
  fi
}
