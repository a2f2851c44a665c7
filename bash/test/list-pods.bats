#!/usr/bin/env bats
# list-pods end to end, against a stand-in kubectl (stubs/kubectl): pages, output, namespace, errors.

setup() {
  load test_helper
  use_stub_kubectl
  LIST_PODS=$BASH_TRACK/basics/list-pods
}

@test "follows the continue token and sorts across pages" {
  list_response 1 500 token+1 "$(pod demo web Running 1)" "$(pod demo api Pending 2)"
  list_response 2 500 "" "$(pod demo db Running 3)"
  run --separate-stderr "$LIST_PODS" -o json
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  [ "${lines[0]}" = '{"namespace":"demo","name":"api","phase":"Pending","node":"node-1","ready":"1/1","restarts":0,"containers":["app"],"images":["app:1"]}' ]
  [[ ${lines[1]} == '{"namespace":"demo","name":"db",'* ]]
  [[ ${lines[2]} == '{"namespace":"demo","name":"web",'* ]]
  run requests
  [ "${lines[0]}" = "/api/v1/namespaces/demo/pods?limit=500" ]
  [ "${lines[1]}" = "/api/v1/namespaces/demo/pods?limit=500&continue=token%2B1" ]
}

@test "the table" {
  list_response 1 500 "" "$(pod demo web Running 1)"
  run --separate-stderr "$LIST_PODS" -l app=web
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "NAME   READY   STATUS    RESTARTS   NODE     AGE" ]
  [[ ${lines[1]} == "web    1/1     Running   0          node-1   "[0-9]*[dy] ]]
  [ "$(requests)" = "/api/v1/namespaces/demo/pods?limit=500&labelSelector=app%3Dweb" ]
}

@test "no pods: nothing on stdout, kubectl's message on stderr" {
  list_response 1 500 ""
  run --separate-stderr "$LIST_PODS"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$stderr" = "No resources found in demo namespace." ]
  list_response 2 500 ""
  run --separate-stderr "$LIST_PODS" -A
  [ "$stderr" = "No resources found" ]
  list_response 3 500 ""
  run --separate-stderr "$LIST_PODS" -o json
  [ -z "$output$stderr" ]
}

@test "the namespace: -n, else the context's, else default; -A lists them all" {
  list_response 1 500 ""
  list_response 2 500 ""
  list_response 3 500 ""
  "$LIST_PODS" -n other 2>/dev/null
  "$LIST_PODS" -A 2>/dev/null
  : >"$STUB_DIR/namespace"
  "$LIST_PODS" 2>/dev/null
  run requests
  [ "${lines[0]}" = "/api/v1/namespaces/other/pods?limit=500" ]
  [ "${lines[1]}" = "/api/v1/pods?limit=500" ]
  [ "${lines[2]}" = "/api/v1/namespaces/default/pods?limit=500" ]
}

@test "no usable kubeconfig: one line naming it, exit 1" {
  echo "error: current-context must exist in order to minify" >"$STUB_DIR/config.err"
  run --separate-stderr "$LIST_PODS"
  [ "$status" -eq 1 ]
  [ "$stderr" = "error: no usable kubeconfig: current-context must exist in order to minify" ]
  run --separate-stderr "$LIST_PODS" --kubeconfig "$BATS_TEST_TMPDIR/absent"
  [ "$status" -eq 1 ]
  [ "$stderr" = "error: cannot read kubeconfig \"$BATS_TEST_TMPDIR/absent\"" ]
}

@test "an API error: one line, exit 1, whichever page fails" {
  list_response 1 500 next "$(pod demo web Running 1)"
  failed_response list 2 'Error from server (Forbidden): pods is forbidden: User "u" cannot list resource "pods"'
  run --separate-stderr "$LIST_PODS"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "$stderr" = 'error: 403 Forbidden: cannot list pods: pods is forbidden: User "u" cannot list resource "pods"' ]
}

@test "every request has a 30 s timeout" {
  list_response 1 500 next "$(pod demo web Running 1)"
  list_response 2 500 "" "$(pod demo db Running 2)"
  run --separate-stderr "$LIST_PODS" -o json
  [ "$status" -eq 0 ]
  run cat "$STUB_DIR/timeouts"
  [ "$output" = "$(printf '30s\n30s')" ]
}

@test "a kubeconfig that turns TLS verification off: refused, one line naming TLS, exit 1, no request" {
  touch "$STUB_DIR/insecure"
  list_response 1 500 "" "$(pod demo web Running 1)"
  run --separate-stderr "$LIST_PODS"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "$stderr" = "error: TLS verification is turned off in the kubeconfig (insecure-skip-tls-verify: true); refusing to connect without it" ]
  [ ! -e "$STUB_DIR/requests" ]
}

@test "a usage error: exit 2 before any request" {
  run --separate-stderr "$LIST_PODS" -o yaml
  [ "$status" -eq 2 ]
  [ ! -e "$STUB_DIR/pids" ]
}
