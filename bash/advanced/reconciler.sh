# shellcheck shell=bash
# The reconciler (Python: reconciler.py): one reconcile of one site, SPEC.md's numbered steps. Needs util.sh,
# site.sh and api.sh.
#
# reconciler.jq decides from the informers' cache what to write and prints it as a plan, one write a line,
# its steps numbered as SPEC.md's; this file carries the plan out with the API requests of api.sh, in order,
# and stops at the first failed write (the error goes back to the queue, which retries the key with backoff:
# nothing is retried here). When the plan needs the API server's answer (a child missing from the cache, the
# objects an apply returned), jq plans the rest with that answer. A no-op reconcile is one question to the
# worker's planner (a jq that keeps running, see planner_start) and no request at all.
#
# A reconcile runs in a subshell of its worker, so its own state is two globals no other reconcile sees:
# RECONCILE_NOW (the time of its status and events) and RECONCILE_HASH (the content hash, once known).
#
# What outlives a reconcile is kept in files under $RUN, per site (any worker may reconcile it next): the
# content hash memo ($RUN/hash/NS/NAME) and the answer of the last apply of each child
# ($RUN/applied/NS/NAME.RESOURCE.json, applied_file), which the planner prefers to the cache when it is
# later (reconciler.jq, fresher). Both go when the site's finalizer is removed.

# A site key, NAMESPACE/NAME, before it becomes a cache path or an API path: a DNS-1123 label, then a
# DNS-1123 subdomain's characters (informer.jq checks names exactly; this is the last gate).
SITE_KEY_PATTERN="${NAMESPACE_PATTERN%\$}/[a-z0-9]([-.a-z0-9]*[a-z0-9])?\$"
# What the lookup and the applies may ask for (children.jq's child_target of a checked site name).
LOOKUP_TARGET_PATTERN='^(configmaps|deployments|services)/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$'
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
  if [[ ! -f $RUN/cache/$SITE_RESOURCE/${key%%/*}/${key#*/}.json ]]; then
    registry_site_gone "${key%%/*}" "${key#*/}" # 1. gone: its finalizer cleaned up (else its key is stray)
    return 0
  fi
  RECONCILE_HASH=""
  rfc3339_now
  RECONCILE_NOW=$REPLY
  : >"$WORKDIR/applied" # this reconcile's apply answers (apply_children appends)
  APPLY_TARGETS=()
  reconcile_plan "$key" main "$WORKDIR/plan.main" || return 1
  reconcile_execute "$key" "$WORKDIR/plan.main"
}

# ----- the planner ---------------------------------------------------------------------------------------------
# Each worker keeps one jq running (planner_start), reading requests on the FIFO $RUN/planner.N.in and
# answering on $RUN/planner.N.out: jq 1.6 takes some 25 ms of CPU to start, more than a whole plan.

# planner_start: (re)start the worker's planner; PLANNER_IN and PLANNER_OUT are the worker's ends.
planner_start() {
  local fifo=$RUN/planner.$WORKER_ID
  planner_stop
  [[ -p $fifo.in ]] || mkfifo "$fifo.in" "$fifo.out"
  # Opened read-write, so no open blocks whichever side comes first; a planner that died is noticed by
  # planner_alive and the answer's timeout instead of an end of file. The planner gets none of the worker's
  # ends: once the worker is gone (however it ended), its input reaches end of file and it exits.
  exec {PLANNER_IN}<>"$fifo.in" {PLANNER_OUT}<>"$fifo.out"
  jq --unbuffered -nrj -L "$ADVANCED_DIR" 'include "reconciler"; planner' <"$fifo.in" >"$fifo.out" \
    {PLANNER_IN}>&- {PLANNER_OUT}>&- &
  PLANNER_PID=$!
}

# planner_stop: end the worker's planner, if it runs. SIGKILL: the workers ignore SIGTERM (an in-flight
# reconcile finishes), and a process started with a signal ignored keeps it ignored; the planner holds no
# state worth a clean exit.
planner_stop() {
  [[ -n ${PLANNER_PID:-} ]] || return 0
  kill -KILL "$PLANNER_PID" 2>/dev/null
  wait "$PLANNER_PID" 2>/dev/null
  exec {PLANNER_IN}>&- {PLANNER_OUT}<&-
  PLANNER_PID=""
}

# planner_alive: the planner runs.
planner_alive() {
  [[ -n ${PLANNER_PID:-} ]] && kill -0 "$PLANNER_PID" 2>/dev/null
}

# json_file FILE: the file's JSON (the cache writes one compact line) in REPLY; null when there is none.
json_file() {
  REPLY=""
  if [[ $1 != /dev/null ]]; then IFS= read -r -d '' REPLY 2>/dev/null <"$1" || true; fi # (to its end; gone: null)
  [[ -n $REPLY ]] || REPLY=null
  return 0
}

# documents_file FILE: the answers of requests, separated by commas (or nothing), as a JSON array, in REPLY.
documents_file() {
  REPLY=""
  if [[ -n $1 && $1 != /dev/null && -s $1 ]]; then IFS= read -r -d '' REPLY <"$1"; fi
  REPLY="[$REPLY]"
  return 0
}

# applied_file NAMESPACE SITE RESOURCE: the file of the last apply's answer of the site's child, in REPLY.
applied_file() {
  REPLY=$RUN/applied/$1/$2.$3.json
}

# last_applied NAMESPACE SITE: the last apply's answers of the site's children that exist, as a JSON array, in
# REPLY (reconciler.jq picks the one of each child by kind and name; an answer that is no object of that
# kind, a refusal's Status, is not picked).
last_applied() {
  local resource documents=""
  for resource in configmaps deployments services; do
    applied_file "$1" "$2" "$resource"
    [[ -s $REPLY ]] || continue
    json_file "$REPLY"
    documents+=${documents:+,}$REPLY
  done
  REPLY="[$documents]"
}

# cached NAMESPACE RESOURCE NAME: the cache file of an object, or /dev/null, in REPLY.
cached() {
  REPLY=$RUN/cache/$2/$1/$3.json
  [[ -f $REPLY ]] || REPLY=/dev/null
}

# cached_site_names NAMESPACE: the names of the sites of the namespace in the cache, a JSON array, in REPLY
# (the registry's keys must be exactly those; reconciler.jq removes the others). The cache's file names are
# DNS-1123 subdomains: informer.jq checks a name before it becomes a path.
cached_site_names() {
  local -a names=("$RUN/cache/$SITE_RESOURCE/$1"/*.json)
  REPLY="[]"
  [[ -e ${names[0]} ]] || return 0
  names=("${names[@]##*/}")
  printf -v REPLY '"%s",' "${names[@]%.json}"
  REPLY="[${REPLY%,}]"
}


# reconcile_plan KEY PHASE OUT [LIVE_FILE LOOKED_UP [APPLIED_FILE [REFUSED_FILE]]]: ask the planner
# (reconciler.jq) for the plan of PHASE; the plan lines go to the file OUT. For phase main, RECONCILE_HASH is
# set to the content hash. REFUSED_FILE holds the refused child and the API server's message (phase refused).
reconcile_plan() {
  local key=$1 phase=$2 out=$3 request site_json configmap deployment service registry live applied refused
  local last
  local namespace=${1%%/*} name=${1#*/} memo="" suffix header id id_read length text attempt part sites
  local memo_file=$RUN/hash/$namespace/$name
  cached "$namespace" configmaps "$name-content" && json_file "$REPLY" && configmap=$REPLY
  cached "$namespace" deployments "$name" && json_file "$REPLY" && deployment=$REPLY
  cached "$namespace" services "$name" && json_file "$REPLY" && service=$REPLY
  cached "$namespace" "$SITE_RESOURCE" "$name" && json_file "$REPLY" && site_json=$REPLY
  fresher_site "$namespace" "$name" "$site_json" && site_json=$REPLY
  registry=null sites="[]"
  if [[ $phase == main ]]; then cached_registry "$namespace" "$name" && registry=$REPLY sites=$REPLY_SITES; fi
  documents_file "${4:-}" && live=$REPLY
  documents_file "${6:-}" && applied=$REPLY
  last_applied "$namespace" "$name" && last=$REPLY
  json_file "${7:-/dev/null}" && refused=$REPLY
  printf -v suffix '%x' $((${EPOCHREALTIME/./} * 1000)) # event names: the time in nanoseconds, in hex
  for attempt in 1 2; do
    [[ $phase == main && -f $memo_file ]] && IFS= read -r memo <"$memo_file"
    [[ $memo =~ $MEMO_PATTERN ]] || memo=""
    id="$BASHPID.$attempt.$phase"
    # The cached objects go in as they are (compact JSON); the strings are checked words (names, checked
    # lookup targets, hex, a time), never free text.
    printf -v request '{"id":"%s","phase":"%s","site":%s,"configmap":%s,"deployment":%s,"service":%s,' \
      "$id" "$phase" "$site_json" "$configmap" "$deployment" "$service"
    printf -v part '"registry":%s,"live":%s,"applied":%s,"last_applied":%s,"refused":%s,' \
      "$registry" "$live" "$applied" "$last" "$refused"
    request+=$part
    printf -v part '"looked_up":"%s","hash":"%s","memo":"%s",' "${5:-}" "$RECONCILE_HASH" "$memo"
    request+=$part
    printf -v part '"now":"%s","event_suffix":"%s","identity":%s,"sites":%s}' "$RECONCILE_NOW" "$suffix" \
      "$IDENTITY_JSON" "$sites"
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
      [[ $phase == main && -n $memo ]] && RECONCILE_HASH=${memo##* }
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
  base64 -d <<<"$bytes" | sha256sum >"$WORKDIR/sum" || return 1
  IFS=' ' read -r sum _ <"$WORKDIR/sum" || return 1
  [[ -d ${2%/*} ]] || mkdir -p "${2%/*}"
  # Written in place, no rename: only the reconciles of this one site read it, and never while this one runs
  # (the queue gives a key to one worker at a time); a half-written memo fails MEMO_PATTERN and is redone.
  printf '%s %s\n' "${request:0:${#request}-${#bytes}-1}" "$sum" >"$2"
}

# failed KEY WHAT: log the reconcile error with the API's reason (API_ERROR); returns 1.
failed() {
  log "reconcile $1: $2: ${API_ERROR:-failed}"
  return 1
}

# reconcile_execute KEY PLAN_FILE [LIVE_FILE LOOKED_UP]: carry out a plan, line by line, in the order of
# SPEC.md's steps (reconciler.jq numbers them); the first failed write ends it.
reconcile_execute() {
  local key=$1 plan verb first second third live=${3:-} looked_up=${4:-} refused=""
  local namespace=${key%%/*} name=${key#*/} answer=$WORKDIR/answer
  exec {plan}<"$2"
  while IFS=$'\t' read -r -u "$plan" verb first second third; do
    if [[ -n ${STATICSITE_DEBUG:-} ]]; then log "reconcile $key: $verb ${first:0:300}"; fi
    case $verb in
      registry-remove) # 2. a deleted site leaves the registry; a missing registry or key counts as removed
        registry_patch "$namespace" "$first" "$answer" || [[ $API_STATUS == 404 ]] ||
          failed "$key" "removing the registry key" || return 1
        registry_key_removed "$namespace" "$name"
        ;;
      finalizer-remove) # 2. then its finalizer, carrying the resourceVersion; the site's memos go with it
        api_patch_site "$namespace" "$name" "$first" "$answer" || [[ $API_STATUS == 404 ]] ||
          failed "$key" "removing the finalizer" || return 1
        forget_site "$namespace" "$name"
        ;;
      finalizer-add) # 3. the finalizer first, carrying the resourceVersion: a conflict is a retry
        api_patch_site "$namespace" "$name" "$first" "$answer" || failed "$key" "adding the finalizer" || return 1
        remember_site "$namespace" "$name" "$answer"
        ;;
      registry-add) # 5. merge patches, so two workers never overwrite each other's keys
        registry_add "$namespace" "$first" "$second" "$third" "$name" || failed "$key" "adding the registry key" ||
          return 1
        ;;
      lookup) # 6. children absent from the cache (or different there): are they there, whose, and how?
        lookup_children "$key" "$first" "$WORKDIR/live" || return 1
        reconcile_plan "$key" children "$WORKDIR/plan.children" "$WORKDIR/live" "$first" || return 1
        reconcile_execute "$key" "$WORKDIR/plan.children" "$WORKDIR/live" "$first" || return 1
        ;;
      apply) # 7. server-side apply of a missing or drifted child: queued, all sent at the synced line
        apply_queue "$key" "$first" "$second" || return 1
        ;;
      synced) # 7. after the applies (the answers kept for step 8): the Synced event, or the report of a
        # child refused as invalid
        apply_children "$key" "$WORKDIR/applied" refused || return 1
        if [[ -n $refused ]]; then
          # A child the API server refused as invalid (422): the spec asks for what cannot be. InvalidSpec, like
          # an invalid name, and no retry (it would be refused the same). That plan replaces the rest of this one.
          reconcile_refused "$key" "$refused" "$live" "$looked_up" || return 1
          break
        fi
        event_send "$key" "$first"
        ;;
      restatus) # 8. after an apply: the status from what the API server returned
        reconcile_plan "$key" status "$WORKDIR/plan.status" "${live:-/dev/null}" "$looked_up" "$WORKDIR/applied" ||
          return 1
        reconcile_execute "$key" "$WORKDIR/plan.status" || return 1
        ;;
      status) # 8. through the status subresource, only when it changed
        api_apply_site_status "$namespace" "$name" "$first" "$answer" || failed "$key" "writing the status" ||
          return 1
        remember_site "$namespace" "$name" "$answer"
        ;;
      event)
        event_send "$key" "$first"
        ;;
      error)
        log "reconcile $key: $first"
        return 1
        ;;
    esac
  done
  exec {plan}<&-
}

# forget_site NAMESPACE NAME: the site is finalized: its content hash memo and its last applies go (its
# children go by garbage collection).
forget_site() {
  local -a files=("$RUN/hash/$1/$2")
  local resource
  for resource in configmaps deployments services "$SITE_RESOURCE"; do
    applied_file "$1" "$2" "$resource"
    files+=("$REPLY")
  done
  rm -f "${files[@]}"
}

# remember_site NAMESPACE NAME ANSWER_FILE: keep the site as our last write of it returned it (the finalizer's
# patch, the status), like a child's last apply: the next reconcile may come before the informer has it (a
# registry change queues a site without a key at once), and would plan from the older site, e.g. add the
# finalizer again with a stale resourceVersion: a 409 and a retry for nothing.
remember_site() {
  applied_file "$1" "$2" "$SITE_RESOURCE"
  local file=$REPLY
  json_file "$3"
  [[ $REPLY == "{"* ]] || return 0
  [[ -d ${file%/*} ]] || mkdir -p "${file%/*}"
  printf '%s' "$REPLY" >"$file"
}

# fresher_site NAMESPACE NAME CACHED_JSON: the later of the cached site and our last write's answer
# (remember_site), in REPLY: resourceVersions of one resource are comparable integers (Kubernetes 1.35,
# "Comparable Resource Version"). A site's JSON names its metadata's resourceVersion first.
fresher_site() {
  local cached=$3 pattern='"resourceVersion":"([0-9]+)"' cached_version kept_version
  REPLY=$cached
  applied_file "$1" "$2" "$SITE_RESOURCE"
  if [[ ! -s $REPLY ]]; then REPLY=$cached && return 0; fi
  json_file "$REPLY"
  if [[ $cached =~ $pattern ]]; then cached_version=${BASH_REMATCH[1]}; else REPLY=$cached && return 0; fi
  if [[ $REPLY =~ $pattern ]]; then kept_version=${BASH_REMATCH[1]}; else REPLY=$cached && return 0; fi
  ((10#$kept_version > 10#$cached_version)) || REPLY=$cached
  return 0
}

# lookup_children KEY "configmaps/NAME deployments/NAME ..." LIVE_FILE: GET each child (SPEC.md step 6), all
# in one curl; the objects found go to LIVE_FILE, separated by commas (documents_file makes them an array); a
# 404 is an answer (absent), any other failure ends the reconcile. Every target is checked before it
# becomes a path.
lookup_children() {
  local key=$1 target namespace=${1%%/*} index
  local -a targets
  # All of it (-d ''): a newline splits nothing, so a target with one fails the check below. (The
  # here-string adds one newline at the end: not part of the last target.)
  IFS=' ' read -r -d '' -a targets <<<"$2" || true
  ((${#targets[@]} > 0)) && targets[-1]=${targets[-1]%$'\n'}
  : >"$3"
  for target in "${targets[@]}"; do
    if [[ ! $target =~ $LOOKUP_TARGET_PATTERN ]]; then
      log "reconcile $key: refusing to look up ${target@Q}"
      return 1
    fi
  done
  ((${#targets[@]} > 0)) || return 1
  for index in "${!targets[@]}"; do
    target=${targets[index]}
    api_batch_get_child "$namespace" "${target%%/*}" "${target#*/}" "$WORKDIR/child.$index"
  done
  api_batch_run "$WORKDIR/lookup.err"
  for index in "${!targets[@]}"; do
    if api_batch_result "$index" "$WORKDIR/child.$index"; then
      append_document "$WORKDIR/child.$index" "$3"
    elif [[ $API_STATUS != 404 ]]; then
      failed "$key" "looking up ${targets[index]}" || return 1
    fi
  done
}

# append_document FILE DOCUMENTS_FILE: add the JSON document in FILE to DOCUMENTS_FILE, comma-separated (the
# form documents_file reads), without a `cat` process.
append_document() {
  local document
  json_file "$1"
  document=$REPLY
  [[ -s $2 ]] && document=",$document"
  printf '%s' "$document" >>"$2"
}

# apply_queue KEY RESOURCE/NAME OBJECT: queue the server-side apply of one child (api_batch_add), its answer
# to the child's last-apply file (applied_file); APPLY_TARGETS lists the children queued.
apply_queue() {
  local key=$1 target=$2 namespace=${1%%/*} index=${#APPLY_TARGETS[@]}
  [[ $target =~ $LOOKUP_TARGET_PATTERN ]] || return 1
  applied_file "$namespace" "${key#*/}" "${target%%/*}"
  [[ -d ${REPLY%/*} ]] || mkdir -p "${REPLY%/*}"
  printf '%s' "$3" >"$WORKDIR/apply.$index"
  api_batch_apply_child "$namespace" "${target%%/*}" "${target#*/}" "$WORKDIR/apply.$index" "$REPLY"
  APPLY_TARGETS+=("$target")
}

# apply_children KEY APPLIED_FILE REFUSED_VAR: send the queued applies at once (SPEC.md: they are
# independent); each answer is added to APPLIED_FILE (comma-separated, like lookup_children's). A child
# refused as invalid (422) is not the end: the others are applied (as one `kubectl apply` of them all would
# be), and the first refusal is kept, as "RESOURCE/NAME FILE" in the variable named REFUSED_VAR, for the
# synced line to report. Any other failure ends the reconcile.
apply_children() {
  local key=$1 index target answer
  local -n first_refused=$3
  local -a targets=("${APPLY_TARGETS[@]}")
  ((${#targets[@]} > 0)) || return 0
  APPLY_TARGETS=()
  api_batch_run "$WORKDIR/apply.err"
  for index in "${!targets[@]}"; do
    target=${targets[index]}
    applied_file "${key%%/*}" "${key#*/}" "${target%%/*}"
    answer=$REPLY
    if api_batch_result "$index" "$answer"; then
      append_document "$answer" "$2"
    elif [[ $API_STATUS == 422 ]]; then
      [[ -n $first_refused ]] || first_refused="$target $answer"
    else
      : >"$answer" # no object: the planner keeps to the cache
      failed "$key" "applying $target" || return 1
    fi
  done
}

# reconcile_refused KEY "RESOURCE/NAME ANSWER_FILE" LIVE_FILE LOOKED_UP: plan and carry out the InvalidSpec
# report of a refused child from the API server's Status (encoded as JSON by jq: data, never pasted).
reconcile_refused() {
  local target=${2%% *} file=${2#* }
  jq -c --arg target "$target" '{target: $target, message: (.message // "")}' "$file" >"$WORKDIR/refused" ||
    { API_ERROR="the answer to the refused apply is no Status" && failed "$1" "applying $target"; } || return 1
  reconcile_plan "$1" refused "$WORKDIR/plan.refused" "${3:-/dev/null}" "$4" /dev/null "$WORKDIR/refused" ||
    return 1
  reconcile_execute "$1" "$WORKDIR/plan.refused"
}
