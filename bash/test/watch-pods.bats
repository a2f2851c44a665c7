#!/usr/bin/env bats
# watch-pods end to end, against a stand-in kubectl (stubs/kubectl): list then watch, reconnecting, 410,
# lasting errors, stopping. A watch the stub has no answer for stays open and silent until --timeout.

setup() {
  load test_helper
  use_stub_kubectl
  WATCH_PODS=$BASH_TRACK/intermediate/watch-pods
  WATCH_PATH="/api/v1/namespaces/demo/pods?watch=1&allowWatchBookmarks=true"
}

# watch_path RESOURCEVERSION: the watch request for namespace demo from RESOURCEVERSION, asking the server to end
# it after the contract's 300 s.
watch_path() {
  printf '%s\n' "$WATCH_PATH&resourceVersion=$1&timeoutSeconds=300"
}

# json_event TYPE NAME PHASE RESOURCEVERSION: the line watch-pods prints for a pod of namespace demo.
json_event() {
  printf '{"type":"%s","namespace":"demo","name":"%s","phase":"%s","resourceVersion":"%s"}\n' "$@"
}

# no_process_left: every process the stub kubectl ran (and the sleep it became) has ended.
no_process_left() {
  local pid
  while read -r pid; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "process $pid is still running"
      return 1
    fi
  done <"$STUB_DIR/pids"
}

@test "lists page by page, prints ADDED sorted, then watches from the list's resourceVersion" {
  list_response 1 100 next "$(pod demo b Running 10)"
  list_response 2 100 "" "$(pod demo a Pending 11)"
  watch_response 1 "$(event ADDED "$(pod demo c Pending 101)")" \
    "$(event BOOKMARK '{"kind":"Pod","metadata":{"resourceVersion":"105"}}')"
  run --separate-stderr "$WATCH_PODS" -o json --timeout 2
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$output" = "$(json_event ADDED a Pending 11; json_event ADDED b Running 10; json_event ADDED c Pending 101)" ]
  # The stream ended after the bookmark: the next watch resumes from it, printing nothing twice.
  run requests
  [ "${lines[1]}" = "/api/v1/namespaces/demo/pods?limit=500&continue=next" ]
  [ "${lines[2]}" = "$(watch_path 100)" ]
  [ "${lines[3]}" = "$(watch_path 105)" ]
  no_process_left
}

@test "the table output" {
  list_response 1 100 "" "$(pod demo a Pending 11)"
  run --separate-stderr "$WATCH_PODS" --timeout 1
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "EVENT     NAMESPACE            NAME                                     PHASE" ]
  [ "${lines[1]}" = "ADDED     demo                 a                                        Pending" ]
}

@test "a dropped stream and a refused connection: reconnect from the last resourceVersion seen" {
  list_response 1 100 "" "$(pod demo a Pending 11)"
  watch_response 1 "$(event MODIFIED "$(pod demo a Running 101)")"
  failed_response watch 1 "error: unexpected EOF"
  failed_response watch 2 "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
  watch_response 3 "$(event DELETED "$(pod demo a Running 102)")"
  run --separate-stderr "$WATCH_PODS" -o json --timeout 3
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$output" = "$(json_event ADDED a Pending 11; json_event MODIFIED a Running 101; json_event DELETED a Running 102)" ]
  run requests
  [ "${lines[1]}" = "$(watch_path 100)" ]
  [ "${lines[2]}" = "$(watch_path 101)" ]
  [ "${lines[3]}" = "$(watch_path 101)" ]
  [ "${lines[4]}" = "$(watch_path 102)" ]
}

@test "an ERROR event with code 410: re-list, print the difference, watch from the new list" {
  list_response 1 100 "" "$(pod demo a Pending 1)" "$(pod demo b Running 2)" "$(pod demo d Running 3)"
  watch_response 1 "$(event MODIFIED "$(pod demo a Running 101)")" \
    "$(event ERROR '{"kind":"Status","status":"Failure","message":"too old resource version: 101 (300)","reason":"Expired","code":410}')"
  list_response 2 300 "" "$(pod demo a Succeeded 150)" "$(pod demo c Pending 160)" "$(pod demo d Running 3)"
  run --separate-stderr "$WATCH_PODS" -o json --timeout 2
  [ "$status" -eq 0 ]
  [ "$output" = "$(
    json_event ADDED a Pending 1
    json_event ADDED b Running 2
    json_event ADDED d Running 3
    json_event MODIFIED a Running 101
    json_event MODIFIED a Succeeded 150
    json_event ADDED c Pending 160
    json_event DELETED b Running 2
  )" ]
  run requests
  [ "${lines[2]}" = "/api/v1/namespaces/demo/pods?limit=500" ]
  [ "${lines[3]}" = "$(watch_path 300)" ]
}

@test "a 410 during the re-list after a 410 (its continue token expired): re-list again, after a backoff" {
  list_response 1 100 "" "$(pod demo a Pending 1)"
  watch_response 1 "$(event ERROR '{"kind":"Status","status":"Failure","message":"too old resource version: 100 (300)","reason":"Expired","code":410}')"
  failed_response list 2 'Error from server (Expired): The provided continue parameter is too old to display a consistent list result.'
  list_response 3 300 "" "$(pod demo b Pending 200)"
  run --separate-stderr "$WATCH_PODS" -o json --timeout 3
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$output" = "$(json_event ADDED a Pending 1; json_event ADDED b Pending 200; json_event DELETED a Pending 1)" ]
  run requests
  [ "${lines[2]}" = "/api/v1/namespaces/demo/pods?limit=500" ]
  [ "${lines[3]}" = "/api/v1/namespaces/demo/pods?limit=500" ]
  [ "${lines[4]}" = "$(watch_path 300)" ]
}

@test "every request has a timeout: 30 s for a list, 330 s for a watch the server ends after 300 s" {
  list_response 1 100 "" "$(pod demo a Pending 1)"
  run --separate-stderr "$WATCH_PODS" -o json --timeout 1
  [ "$status" -eq 0 ]
  run requests
  [ "${lines[1]}" = "$(watch_path 100)" ]
  run cat "$STUB_DIR/timeouts"
  [ "${lines[0]}" = 30s ]
  [ "${lines[1]}" = 330s ]
}

@test "a kubeconfig that turns TLS verification off: refused, one line, exit 1, no request" {
  touch "$STUB_DIR/insecure"
  run --separate-stderr "$WATCH_PODS" -o json --timeout 5
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ $stderr == "error: TLS verification is turned off in the kubeconfig"* ]]
  [ ! -e "$STUB_DIR/requests" ]
}

@test "a 410 when the watch starts: re-list too" {
  list_response 1 100 "" "$(pod demo a Pending 1)"
  failed_response watch 1 "Error from server (Expired): too old resource version: 100 (300)"
  list_response 2 300 ""
  run --separate-stderr "$WATCH_PODS" -o json --timeout 2
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$output" = "$(json_event ADDED a Pending 1; json_event DELETED a Pending 1)" ]
  [ "$(requests | tail -n 1)" = "$(watch_path 300)" ]
}

@test "a 403 on the watch: one line naming the watch, exit 1" {
  list_response 1 100 "" "$(pod demo a Pending 1)"
  failed_response watch 1 'Error from server (Forbidden): pods is forbidden: User "u" cannot watch resource "pods" in API group "" in the namespace "demo"'
  run --separate-stderr "$WATCH_PODS" -o json --timeout 5
  [ "$status" -eq 1 ]
  [ "$stderr" = 'error: 403 Forbidden: cannot watch pods: pods is forbidden: User "u" cannot watch resource "pods" in API group "" in the namespace "demo"' ]
  no_process_left
}

@test "a first list that fails is reported, not retried" {
  failed_response list 1 "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
  run --separate-stderr "$WATCH_PODS" --timeout 5
  [ "$status" -eq 1 ]
  [ -z "$output" ] # not even the table's header
  [[ $stderr == "error: cannot reach the API server: "* ]]
  [ "${#stderr_lines[@]}" -eq 1 ]
}

# stops_on SIGNAL: watch-pods, started in the background, exits 0 soon after SIGNAL, leaving no process behind.
stops_on() {
  list_response 1 100 "" "$(pod demo a Pending 1)"
  # A background job of a non-interactive shell ignores SIGINT, and a shell cannot trap a signal ignored when it
  # starts: give watch-pods the default disposition back, as a terminal or a supervisor would.
  env --default-signal=INT "$WATCH_PODS" -o json >"$BATS_TEST_TMPDIR/out" 2>&1 &
  local watcher=$! tries=0
  until [[ $(grep -c watch=1 "$STUB_DIR/requests" 2>/dev/null) -ge 1 ]] || ((++tries > 100)); do sleep 0.1; done
  kill -s "$1" "$watcher"
  local status=0
  wait "$watcher" || status=$?
  [ "$status" -eq 0 ]
  no_process_left
}

@test "SIGTERM: exit 0, no process left behind" {
  stops_on TERM
}

@test "SIGINT: exit 0, no process left behind" {
  stops_on INT
}
