# shellcheck shell=bash
# The informers (Python: informer.py): one process per kind of object — StaticSites, and the ConfigMaps,
# Deployments and Services labelled app.kubernetes.io/managed-by=staticsite-controller — each listing, then
# watching, keeping a cache of the objects and putting the key of the site each change concerns into the
# work queue (queue.sh).
#
# The cache is one file per object, $RUN/cache/RESOURCE/NAMESPACE/NAME.json (without managedFields), written
# to a temporary file and renamed, so a reader never sees half an object. Only this resource's informer
# writes under $RUN/cache/RESOURCE; the reconciler only reads.
#
# Requests: GETs of the REST API (api.sh), not `kubectl get --watch`: with the API paths we choose the list's
# page size, the watch's resourceVersion (resume exactly where the last watch ended, so nothing is missed
# or replayed), bookmarks (allowWatchBookmarks, which keep that resourceVersion fresh) and the server-side
# timeout (timeoutSeconds=300, as client-go), and we see the watch's ERROR events, 410 Gone among them:
# the resourceVersion expired, so the informer lists again and compares with its cache (deleted objects
# are removed and their sites queued). `kubectl get --watch` hides all of that.

MANAGED_SELECTOR=labelSelector=app.kubernetes.io%2Fmanaged-by%3D$SITE_MANAGER # SITE_MANAGED_SELECTOR, URL-encoded
WATCH_TIMEOUT_SECONDS=300
# The backoff of a failed list or watch, in microseconds: 200 ms, doubling, at most 5 s.
INFORMER_MIN_DELAY_US=200000
INFORMER_MAX_DELAY_US=5000000

# informer_run RESOURCE NAMESPACE: the informer process: list, watch, repeat, until SIGTERM. NAMESPACE empty:
# every namespace.
informer_run() {
  INF_RESOURCE=$1
  # shellcheck disable=SC2034 # read by log (util.sh)
  LOG_NAME="informer $1"
  INF_DIR=$RUN/cache/$1
  INF_ERR=$RUN/informer.$1.err
  INF_PIDS=()
  declare -gA INF_OWNERS=() INF_SEEN=() INF_IGNORED=() # cache file -> its site key ("-": none); files seen
  # by a list; objects ignored (and logged once)
  trap - EXIT
  trap informer_stop TERM INT
  exec {INF_QUEUE}<>"$RUN/queue.fifo"
  api_collection_path "$1" "$2"
  INF_PATH=$REPLY
  INF_SELECTOR=""
  [[ $1 == "$SITE_RESOURCE" ]] || INF_SELECTOR=$MANAGED_SELECTOR
  local resource_version="" delay=$INFORMER_MIN_DELAY_US status
  while kill -0 "$MANAGER_PID" 2>/dev/null; do
    if [[ -z $resource_version ]]; then
      if informer_list; then
        resource_version=$INF_RV
        : >"$RUN/state/synced.$1"
      else
        log "list failed (retrying in $((delay / 1000)) ms): $INF_MESSAGE"
        informer_backoff "$delay"
        delay=$REPLY
        continue
      fi
    fi
    informer_watch "$resource_version"
    status=$?
    resource_version=$INF_RV
    if ((INF_EVENTS > 0)); then delay=$INFORMER_MIN_DELAY_US; fi # any event (bookmarks too) resets the backoff
    case $status in
      0) ;; # the server ended the watch (timeoutSeconds): resume at once
      2) resource_version="" ;; # 410 Gone: list again
      *)
        log "watch failed (resuming in $((delay / 1000)) ms): $INF_MESSAGE"
        informer_backoff "$delay"
        delay=$REPLY
        ;;
    esac
  done
}

# informer_stop: SIGTERM: end the running curl and jq, then the informer.
informer_stop() {
  if ((${#INF_PIDS[@]} > 0)); then kill "${INF_PIDS[@]}" 2>/dev/null; fi
  exit 0
}

# informer_backoff MICROSECONDS: sleep that long, then the next delay (doubled, at most the maximum), in REPLY.
informer_backoff() {
  informer_sleep "$1"
  REPLY=$(($1 * 2 > INFORMER_MAX_DELAY_US ? INFORMER_MAX_DELAY_US : $1 * 2))
}

# informer_sleep MICROSECONDS: wait, interruptibly (a SIGTERM ends the informer at once).
informer_sleep() {
  seconds_text "$1"
  sleep "$REPLY" &
  INF_PIDS=("$!")
  wait "$!"
  INF_PIDS=()
}

# informer_list: list every object page by page into the cache; objects the cache has and the list has not
# were deleted meanwhile. Sets INF_RV to the list's resourceVersion. Returns 1, with INF_MESSAGE, when a
# request fails.
informer_list() {
  local page=$RUN/informer.$INF_RESOURCE.page records=$RUN/informer.$INF_RESOURCE.records token="" file
  INF_SEEN=()
  INF_EVENTS=0
  INF_MESSAGE="no answer"
  while :; do
    # In the background, so a SIGTERM (informer_stop) need not wait for the answer.
    api_list "$INF_PATH?limit=500${INF_SELECTOR:+&$INF_SELECTOR}${token:+&continue=$token}" "$page" &
    INF_PIDS=("$!")
    if ! wait "$!"; then
      # shellcheck disable=SC2034 # read by api_error_line
      API_STATUS="" # the background request's API_STATUS and API_ERROR went with its subshell
      api_error_line "$page"
      INF_MESSAGE=$API_ERROR
      return 1
    fi
    INF_PIDS=()
    # shellcheck disable=SC2016 # a jq program
    jq -j -L "$ADVANCED_DIR" --arg resource "$INF_RESOURCE" 'include "informer"; list_records($resource)' "$page" \
      >"$records" 2>"$INF_ERR" || return 1
    informer_consume <"$records" || return 1
    [[ $INF_CONTINUE == - ]] && break
    token=$INF_CONTINUE
  done
  for file in "${!INF_OWNERS[@]}"; do
    [[ -n ${INF_SEEN[$file]+x} ]] || informer_delete "$file"
  done
  INF_SEEN=()
}

# informer_watch RESOURCE_VERSION: watch from RESOURCE_VERSION until the stream ends. Sets INF_RV to the last
# resourceVersion seen and INF_EVENTS to the number of events. Returns 0 when the server ended the watch,
# 2 when the resourceVersion expired (410), 1 on another error (INF_MESSAGE says which).
informer_watch() {
  local url="$INF_PATH?watch=1&allowWatchBookmarks=true&timeoutSeconds=$WATCH_TIMEOUT_SECONDS"
  url+="&resourceVersion=$1${INF_SELECTOR:+&$INF_SELECTOR}"
  local raw events status started=$EPOCHSECONDS
  INF_RV=$1
  INF_EVENTS=0
  INF_MESSAGE=""
  # curl's output goes through one jq, which frames each event (informer.jq); both pids are kept so
  # informer_stop ends them (a pipeline's processes would be out of reach).
  exec {raw}< <(api_watch "$url" $((WATCH_TIMEOUT_SECONDS + 30)) 2>"$INF_ERR")
  INF_PIDS=("$!")
  # shellcheck disable=SC2016 # a jq program
  exec {events}< <(exec jq --unbuffered -j -L "$ADVANCED_DIR" --arg resource "$INF_RESOURCE" \
    'include "informer"; watch_record($resource)' <&"$raw")
  INF_PIDS+=("$!")
  exec {raw}<&-
  informer_consume <&"$events"
  status=$?
  exec {events}<&-
  kill "${INF_PIDS[@]}" 2>/dev/null
  INF_PIDS=()
  if ((status == 0)) && [[ -s $INF_ERR ]]; then
    first_line "$INF_ERR" # curl's: the proxy is unreachable, or the watch outlived its --max-time
    INF_MESSAGE=$REPLY
    status=1
  elif ((status == 0 && INF_EVENTS == 0 && EPOCHSECONDS - started < 1)); then
    INF_MESSAGE="the watch ended at once" # never a busy loop
    status=1
  fi
  return "$status"
}

# informer_consume: read framed records (informer.jq) on stdin into the cache. Returns 2 on a 410 ERROR
# event, 1 on another ERROR event or a short read. Every header word was checked or encoded by informer.jq;
# the length is checked here too, so a broken stream is an error, never a misread.
informer_consume() {
  local type version namespace name owner length object
  while IFS=' ' read -r type version namespace name owner length; do
    case $type in
      ITEM | ADDED | MODIFIED | DELETED)
        [[ $length =~ ^[0-9]+$ ]] || return 1
        IFS= read -r -N "$length" object || return 1
        if [[ $type == DELETED ]]; then
          informer_delete "$INF_DIR/$namespace/$name.json" "$owner"
        else
          informer_store "$INF_DIR/$namespace/$name.json" "$owner"
        fi
        ;;
      REGISTRY) # REGISTRY NAMESPACE STATE LENGTH, then the keys that map to their site's URL
        [[ $name =~ ^[0-9]+$ ]] || return 1
        object=""
        if ((name > 0)); then IFS= read -r -N "$name" object || return 1; fi
        informer_registry_changed "$version" "$namespace" "$object"
        continue # part of the record before it
        ;;
      SKIP) log "ignoring an object whose namespace or name is not valid (resourceVersion $version)" ;;
      BOOKMARK) ;;
      LIST) INF_CONTINUE=$namespace ;;
      ERROR) # ERROR CODE MESSAGE...
        INF_MESSAGE="$version $namespace $name $owner $length"
        while [[ $INF_MESSAGE == *" " ]]; do INF_MESSAGE=${INF_MESSAGE% }; done
        [[ $version == 410 ]] && return 2
        return 1
        ;;
      *) continue ;;
    esac
    [[ $version == - ]] || INF_RV=$version
    ((INF_EVENTS += 1))
  done
  return 0
}

# informer_store FILE OWNER: put the object (in `object`) in the cache and queue its site, and the site that
# owned it before if that changed. FILE is built from the namespace and name informer.jq checked.
informer_store() {
  local file=$1 owner=$2 before=${INF_OWNERS[$1]:--}
  informer_ignore "$file" "$owner" && owner=-
  [[ -d ${file%/*} ]] || mkdir -p "${file%/*}"
  printf '%s' "$object" >"$file.tmp" && mv -f "$file.tmp" "$file"
  INF_OWNERS[$file]=$owner
  INF_SEEN[$file]=1
  [[ $owner == - ]] || printf 'add %s\n' "$owner" >&"$INF_QUEUE"
  [[ $before == - || $before == "$owner" ]] || printf 'add %s\n' "$before" >&"$INF_QUEUE"
}

# informer_ignore FILE OWNER: true when OWNER is "!": the object names as its controller a StaticSite that
# cannot exist, so it is no site's child and queues nothing. Logged once per object, not at every event or
# list that shows it again.
informer_ignore() {
  if [[ $2 != '!' ]]; then
    unset -v 'INF_IGNORED[$1]'
    return 1
  fi
  if [[ -z ${INF_IGNORED[$1]+x} ]]; then
    INF_IGNORED[$1]=1
    local path=${1%.json}
    log "ignoring ${path#"$RUN/cache/"}: its controller ownerReference names a StaticSite that cannot exist (invalid name)"
  fi
  return 0
}

# informer_delete FILE [OWNER]: the object is gone: drop it from the cache and queue its site (for the
# registry, the sites of its namespace).
informer_delete() {
  local owner=${INF_OWNERS[$1]:-${2:--}} namespace
  [[ $owner == '!' ]] && owner=-
  rm -f "$1"
  unset -v 'INF_OWNERS[$1]' 'INF_IGNORED[$1]'
  [[ $owner == - ]] || printf 'add %s\n' "$owner" >&"$INF_QUEUE"
  if [[ $INF_RESOURCE == configmaps && $owner == - && ${1##*/} == "$REGISTRY_NAME.json" ]]; then
    namespace=${1%/*}
    informer_registry_changed "${namespace##*/}" gone ""
  fi
}
