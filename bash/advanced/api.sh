# shellcheck shell=bash
# The API requests of the controller (Python: api.py, Go: api.go): the Kubernetes REST API itself, one
# function per request, each documented by its verb and path. Needs util.sh and site.sh.
#
# One `kubectl proxy` per controller process carries every request (api_proxy_start): kubectl does what is
# hard to do well in Bash (kubeconfig files, the in-cluster fallback, client certificates, tokens, exec
# plugins, TLS verification), once, and `curl` speaks plain HTTP to it on a unix socket in the controller's
# private directory (mode 0700: no port is opened, nothing else can connect, and two controllers never
# collide). A request is then one curl process and one round trip, not a kubectl process that reads its
# configuration, asks for discovery and GETs the object before it patches it.
#
# Every request is bounded (curl --max-time; the proxy has no timeout of its own), and every answer's HTTP
# status is looked at: api_request returns 0 for 2xx only, and leaves the status in API_STATUS and a one-line
# reason in API_ERROR. Paths are built from namespaces and names the informers checked (DNS-1123), and
# curl's URL globbing is off (-g), so no name becomes syntax; bodies go on stdin, never on a command line.

API_TIMEOUT=60 # seconds a request may take, answer included (EVENT_TIMEOUT and the Lease's budget are shorter)
# Our own User-Agent: the API server indents its JSON for a curl/... one (the parsing here wants it compact),
# and the audit log then names the controller.
API_USER_AGENT="staticsite-controller-bash"

# Content types of the three kinds of write.
API_MERGE_PATCH=application/merge-patch+json
API_APPLY_PATCH=application/apply-patch+yaml # server-side apply (its body may be JSON: JSON is YAML)
API_JSON=application/json

# api_proxy_start DIR: start `kubectl proxy` on the unix socket DIR/api.sock and wait (30 s at most) until it
# listens. Sets API_SOCKET and API_PROXY_PID; returns 1, with the proxy's first line of output in REPLY,
# when it ends or never listens. The kubectl configuration was checked before (check_configuration). The
# proxy ignores SIGINT (a Ctrl-C reaches the whole process group): the shutdown still needs it to release
# the Lease (a SIGTERM of the whole group ends it all the same: kubectl's Go runtime keeps only an ignored
# SIGINT ignored; the shutdown then starts it again). The manager's cleanup ends it last (kill_descendants).
api_proxy_start() {
  API_SOCKET=$1/api.sock
  rm -f "$API_SOCKET" # a dead proxy's
  (
    trap '' INT
    exec "${KUBECTL[@]}" proxy --unix-socket="$API_SOCKET" >"$1/api-proxy.log" 2>&1
  ) &
  API_PROXY_PID=$!
  local deadline=$((EPOCHSECONDS + 30))
  until [[ -S $API_SOCKET ]]; do
    if ! kill -0 "$API_PROXY_PID" 2>/dev/null || ((EPOCHSECONDS >= deadline)); then
      first_line "$1/api-proxy.log"
      return 1
    fi
    sleep 0.05
  done
}

# api_request METHOD PATH OUT [CONTENT_TYPE BODY]: one request through the proxy; the answer's body in the
# file OUT. API_STATUS is the HTTP status (000: no answer); on anything but 2xx, API_ERROR is one line: the
# API server's Status message, or curl's own error. API_MAX_TIME, when set, bounds it instead of API_TIMEOUT.
api_request() {
  local -a curl_args=(--silent --show-error --globoff --user-agent "$API_USER_AGENT" --unix-socket "$API_SOCKET"
    --max-time "${API_MAX_TIME:-$API_TIMEOUT}" --request "$1" --output "$3" --write-out '%{http_code}')
  if (($# > 3)); then curl_args+=(--header "Content-Type: $4" --data-binary @-); fi
  API_ERROR=""
  API_STATUS=$(curl "${curl_args[@]}" "http://localhost$2" 2>"$3.err" <<<"${5:-}")
  [[ $API_STATUS == 2[0-9][0-9] ]] && return 0
  api_error_line "$3"
  return 1
}

# Several independent requests in one curl process: curl's start-up (its libraries, its TLS set-up even
# unused) costs more CPU than a request to the proxy, so the lookups of step 6 and the applies of step 7 go
# out together (SPEC.md lets each group run at once: `--parallel`). api_batch_add queues a request,
# api_batch_run sends them all; request I's status is in API_BATCH_STATUS[I] and its answer in its OUT.

API_BATCH_ARGS=() API_BATCH_OUTS=()

# api_batch_add METHOD PATH OUT [CONTENT_TYPE BODY_FILE]: queue a request for api_batch_run (the body is read
# from a file: several requests cannot share stdin).
api_batch_add() {
  local index=${#API_BATCH_OUTS[@]}
  API_BATCH_OUTS+=("$3")
  # --next starts the options of the next request afresh; each request's --write-out line names its index,
  # since --parallel prints them as the requests end, and curl's exit code: a status line may have come
  # before the time ran out in the body.
  ((index == 0)) || API_BATCH_ARGS+=(--next)
  API_BATCH_ARGS+=(--silent --show-error --globoff --user-agent "$API_USER_AGENT" --unix-socket "$API_SOCKET"
    --max-time "${API_MAX_TIME:-$API_TIMEOUT}" --request "$1" --output "$3" --write-out "$index %{http_code} %{exitcode}\n")
  if (($# > 3)); then API_BATCH_ARGS+=(--header "Content-Type: $4" --data-binary "@$5"); fi
  API_BATCH_ARGS+=("http://localhost$2")
}

# api_batch_run ERRORS_FILE: send the queued requests at once, in one curl; API_BATCH_STATUS[I] is the HTTP
# status of request I (000: no whole answer; curl's own errors go to ERRORS_FILE), and the queue is empty
# again.
api_batch_run() {
  local index line
  local -a lines
  API_BATCH_STATUS=()
  API_BATCH_ERRORS=$1
  curl --parallel "${API_BATCH_ARGS[@]}" >"$1.status" 2>"$1"
  mapfile -t lines <"$1.status"
  for index in "${!API_BATCH_OUTS[@]}"; do API_BATCH_STATUS[index]=000; done
  for line in "${lines[@]}"; do
    [[ $line =~ ^([0-9]+)\ ([0-9]{3})\ 0$ ]] && API_BATCH_STATUS[BASH_REMATCH[1]]=${BASH_REMATCH[2]}
  done
  API_BATCH_ARGS=() API_BATCH_OUTS=()
}

# api_batch_result INDEX OUT: request INDEX of the last api_batch_run, whose answer is in OUT, as
# api_request leaves one: API_STATUS, and API_ERROR unless it is 2xx (then it returns 0).
api_batch_result() {
  API_STATUS=${API_BATCH_STATUS[$1]:-000}
  API_ERROR=""
  [[ $API_STATUS == 2[0-9][0-9] ]] && return 0
  api_error_line "$2" "$API_BATCH_ERRORS"
  return 1
}

# api_error_line OUT [ERRORS_FILE]: API_ERROR from a failed request's answer (OUT) or curl's stderr (the
# file ERRORS_FILE, by default OUT.err). The
# message is only logged, so a regular expression is enough here (no jq process on an error path).
# shellcheck disable=SC2034 # API_ERROR is a result, read by the callers
api_error_line() {
  local body="" pattern='"message":"(([^"\\]|\\.)*)"'
  if [[ -s $1 ]]; then IFS= read -r -N 4096 body <"$1"; fi
  if [[ $body =~ $pattern ]]; then
    API_ERROR=${BASH_REMATCH[1]//\\\"/\"} # (a quote is the one escape Status messages commonly hold)
    API_ERROR+=" (HTTP $API_STATUS)"
  else
    first_line "${2:-$1.err}"
    API_ERROR=${REPLY:-"HTTP $API_STATUS"}
    if [[ $API_STATUS == 000 && -z $REPLY ]]; then API_ERROR="no answer within ${API_MAX_TIME:-$API_TIMEOUT} s"; fi
  fi
}

# ----- paths -------------------------------------------------------------------------------------------------

# api_collection_path RESOURCE [NAMESPACE]: the path of a collection (every namespace when NAMESPACE is
# empty), in REPLY. RESOURCE is one the controller knows: staticsites, configmaps, deployments, services,
# events, leases.
api_collection_path() {
  local group_version
  case $1 in
    "$SITE_RESOURCE") group_version=/apis/$SITE_GROUP/$SITE_VERSION ;;
    deployments) group_version=/apis/apps/v1 ;;
    leases) group_version=/apis/coordination.k8s.io/v1 ;;
    *) group_version=/api/v1 ;;
  esac
  REPLY=$group_version${2:+/namespaces/$2}/$1
}

# api_object_path RESOURCE NAMESPACE NAME: the path of one object, in REPLY.
api_object_path() {
  api_collection_path "$1" "$2"
  REPLY+=/$3
}

# The query of every write the controller owns: its field manager; server-side applies also force.
API_APPLY_QUERY="fieldManager=$SITE_MANAGER&force=true"

# ----- the site ----------------------------------------------------------------------------------------------

# api_patch_site NAMESPACE NAME PATCH OUT: PATCH /apis/sites.example.com/v1alpha1/namespaces/NS/staticsites/NAME,
# a JSON merge patch (the finalizers, carrying the resourceVersion: a conflict is a 409).
api_patch_site() {
  api_object_path "$SITE_RESOURCE" "$1" "$2"
  api_request PATCH "$REPLY?fieldManager=$SITE_MANAGER" "$4" "$API_MERGE_PATCH" "$3"
}

# api_apply_site_status NAMESPACE NAME OBJECT OUT:
# PATCH /apis/sites.example.com/v1alpha1/namespaces/NS/staticsites/NAME/status, server-side apply.
api_apply_site_status() {
  api_object_path "$SITE_RESOURCE" "$1" "$2"
  api_request PATCH "$REPLY/status?$API_APPLY_QUERY" "$4" "$API_APPLY_PATCH" "$3"
}

# ----- the registry ------------------------------------------------------------------------------------------

# api_patch_registry NAMESPACE PATCH OUT: PATCH /api/v1/namespaces/NS/configmaps/staticsite-registry, a JSON
# merge patch (keys added and removed without reading the object first).
api_patch_registry() {
  api_object_path configmaps "$1" "$REGISTRY_NAME"
  api_request PATCH "$REPLY?fieldManager=$SITE_MANAGER" "$3" "$API_MERGE_PATCH" "$2"
}

# api_create_registry NAMESPACE OBJECT OUT: POST /api/v1/namespaces/NS/configmaps.
api_create_registry() {
  api_collection_path configmaps "$1"
  api_request POST "$REPLY?fieldManager=$SITE_MANAGER" "$3" "$API_JSON" "$2"
}

# ----- the children ------------------------------------------------------------------------------------------

# api_batch_get_child NAMESPACE RESOURCE NAME OUT: queue (api_batch_add) a
# GET /api/v1/namespaces/NS/configmaps/NAME (or services/NAME), /apis/apps/v1/namespaces/NS/deployments/NAME.
# A 404 is an answer too: API_BATCH_STATUS says which.
api_batch_get_child() {
  api_object_path "$2" "$1" "$3"
  api_batch_add GET "$REPLY" "$4"
}

# api_batch_apply_child NAMESPACE RESOURCE NAME BODY_FILE OUT: queue a PATCH on the child's path (as
# api_batch_get_child), server-side apply with the controller's field manager, forced (SPEC.md, "Writing
# children"); the object in BODY_FILE.
api_batch_apply_child() {
  api_object_path "$2" "$1" "$3"
  api_batch_add PATCH "$REPLY?$API_APPLY_QUERY" "$5" "$API_APPLY_PATCH" "$4"
}

# ----- events ------------------------------------------------------------------------------------------------

# api_create_event NAMESPACE EVENT OUT: POST /api/v1/namespaces/NS/events, bounded by EVENT_TIMEOUT.
api_create_event() {
  api_collection_path events "$1"
  API_MAX_TIME=$EVENT_TIMEOUT api_request POST "$REPLY" "$3" "$API_JSON" "$2"
}

# ----- informers ---------------------------------------------------------------------------------------------

# api_list PATH OUT: GET PATH, one page of a list (PATH carries limit, continue and labelSelector).
api_list() {
  api_request GET "$1" "$2"
}

# api_watch PATH SECONDS: GET PATH (watch=1) and stream the events to stdout as they come, for at most
# SECONDS; curl's errors on stderr. An answer other than 200 is one Status object in the stream, which
# informer.jq turns into an ERROR record, as the API server's ERROR events.
api_watch() {
  exec curl --silent --show-error --globoff --no-buffer --user-agent "$API_USER_AGENT" --unix-socket "$API_SOCKET" \
    --max-time "$2" \
    "http://localhost$1"
}

# ----- the Lease ---------------------------------------------------------------------------------------------

# api_get_lease NAMESPACE NAME OUT: GET /apis/coordination.k8s.io/v1/namespaces/NS/leases/NAME.
api_get_lease() {
  api_object_path leases "$1" "$2"
  api_request GET "$REPLY" "$3"
}

# api_create_lease NAMESPACE OBJECT OUT: POST /apis/coordination.k8s.io/v1/namespaces/NS/leases.
api_create_lease() {
  api_collection_path leases "$1"
  api_request POST "$REPLY" "$3" "$API_JSON" "$2"
}

# api_replace_lease NAMESPACE NAME OBJECT OUT: PUT /apis/coordination.k8s.io/v1/namespaces/NS/leases/NAME
# (the object carries the resourceVersion read or written last: a conflict is a 409).
api_replace_lease() {
  api_object_path leases "$1" "$2"
  api_request PUT "$REPLY" "$4" "$API_JSON" "$3"
}
