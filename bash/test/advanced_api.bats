#!/usr/bin/env bats
# The API requests (bash/advanced/api.sh) against a fake `kubectl proxy` on a unix socket
# (stubs/fake-api-proxy): each request's verb, path and content type; the status handling; bounded requests;
# bodies and names as data; the proxy's start and supervision.
# shellcheck disable=SC2030,SC2031,SC2034 # globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  start_fake_proxy
  ANSWER=$BATS_TEST_TMPDIR/answer
}

teardown() {
  stop_fake_proxy
}

# sent N: "METHOD PATH CONTENT-TYPE" of the Nth request.
sent() {
  printf '%s %s\n' "$(sed -n "${1}p" "$FAKE/calls")" "$(sed -n 1p "$FAKE/headers.$1")"
}

@test "one function per request: verb, path and content type" {
  for verb in GET POST PUT PATCH; do route "$verb" / 200; done # any path: 200, no body
  api_patch_site demo hello '{}' "$ANSWER"
  api_apply_site_status demo hello '{}' "$ANSWER"
  api_patch_registry demo '{}' "$ANSWER"
  api_create_registry demo '{}' "$ANSWER"
  api_batch_get_child demo deployments hello "$ANSWER"
  api_batch_run "$BATS_TEST_TMPDIR/errors"
  echo '{}' >"$BATS_TEST_TMPDIR/body"
  api_batch_apply_child demo services hello "$BATS_TEST_TMPDIR/body" "$ANSWER"
  api_batch_run "$BATS_TEST_TMPDIR/errors"
  api_create_event demo '{}' "$ANSWER"
  api_get_lease staticsite-system staticsite-controller "$ANSWER"
  api_create_lease staticsite-system '{}' "$ANSWER"
  api_replace_lease staticsite-system staticsite-controller '{}' "$ANSWER"
  [ "$(sent 1)" = "PATCH /apis/sites.example.com/v1alpha1/namespaces/demo/staticsites/hello?fieldManager=staticsite-controller application/merge-patch+json" ]
  [ "$(sent 2)" = "PATCH /apis/sites.example.com/v1alpha1/namespaces/demo/staticsites/hello/status?fieldManager=staticsite-controller&force=true application/apply-patch+yaml" ]
  [ "$(sent 3)" = "PATCH /api/v1/namespaces/demo/configmaps/staticsite-registry?fieldManager=staticsite-controller application/merge-patch+json" ]
  [ "$(sent 4)" = "POST /api/v1/namespaces/demo/configmaps?fieldManager=staticsite-controller application/json" ]
  [ "$(sent 5)" = "GET /apis/apps/v1/namespaces/demo/deployments/hello None" ]
  [ "$(sent 6)" = "PATCH /api/v1/namespaces/demo/services/hello?fieldManager=staticsite-controller&force=true application/apply-patch+yaml" ]
  [ "$(sent 7)" = "POST /api/v1/namespaces/demo/events application/json" ]
  [ "$(sent 8)" = "GET /apis/coordination.k8s.io/v1/namespaces/staticsite-system/leases/staticsite-controller None" ]
  [ "$(sent 9)" = "POST /apis/coordination.k8s.io/v1/namespaces/staticsite-system/leases application/json" ]
  [ "$(sent 10)" = "PUT /apis/coordination.k8s.io/v1/namespaces/staticsite-system/leases/staticsite-controller application/json" ]
  # Our own User-Agent: the API server would indent its answers for curl's.
  [ "$(sed -n 2p "$FAKE/headers.1")" = staticsite-controller-bash ]
}

@test "2xx is success; anything else fails with the status and the API server's message" {
  jq -nc '{kind: "ConfigMap", metadata: {name: "x"}}' >"$FAKE/ok.json"
  jq -nc '{kind: "Status", code: 409, reason: "Conflict",
    message: "Operation cannot be fulfilled on staticsites \"hello\": the object has been modified"}' >"$FAKE/409.json"
  route GET /ok 200 "$FAKE/ok.json"
  route PATCH /staticsites/hello 409 "$FAKE/409.json"
  api_request GET /ok "$ANSWER"
  [ "$API_STATUS" = 200 ]
  [ "$(jq -c . "$ANSWER")" = '{"kind":"ConfigMap","metadata":{"name":"x"}}' ]
  api_patch_site demo hello '{}' "$ANSWER" || status=$?
  [ "$status" -eq 1 ]
  [ "$API_STATUS" = 409 ]
  [ "$API_ERROR" = 'Operation cannot be fulfilled on staticsites "hello": the object has been modified (HTTP 409)' ]
}

@test "a request that gets no answer ends at its time limit, with curl's reason" {
  route GET /slow hang
  API_MAX_TIME=0.5 api_request GET /slow "$ANSWER" || status=$?
  [ "$status" -eq 1 ]
  [ "$API_STATUS" = 000 ]
  [[ $API_ERROR == *"imed out"* ]]
}

@test "no proxy: a failure with curl's reason, never a hang" {
  API_SOCKET=$BATS_TEST_TMPDIR/none.sock
  api_request GET /x "$ANSWER" || status=$?
  [ "$status" -eq 1 ]
  [ "$API_STATUS" = 000 ]
  [[ $API_ERROR == curl:* ]]
}

@test "bodies are data: sent byte for byte on stdin, never a word of a command" {
  route PATCH / 200
  # shellcheck disable=SC2016 # the $(...) is meant literally: data, never run
  local body=$'{"data":{"a b":"$(touch pwned) `id` \' \\" ; & | * ?","n":"line\\nbreak"}}'
  api_patch_registry demo "$body" "$ANSWER"
  [ "$(cat "$FAKE/body.1")" = "$body" ]
  [ ! -e pwned ]
}

@test "names reach the path as they are, and curl globbing is off" {
  route GET / 404
  api_patch_site demo 'a[1]{b}' '{}' "$ANSWER" || true # (the reconciler never asks for such a name)
  api_batch_get_child demo configmaps 'a[1]{b}' "$ANSWER"
  api_batch_run "$BATS_TEST_TMPDIR/errors"
  [ "$(sed -n 1p "$FAKE/calls")" = "PATCH /apis/sites.example.com/v1alpha1/namespaces/demo/staticsites/a[1]{b}?fieldManager=staticsite-controller" ]
  [ "$(sed -n 2p "$FAKE/calls")" = "GET /api/v1/namespaces/demo/configmaps/a[1]{b}" ]
}

@test "a batch is one curl: each request's status and answer by its index, errors as api_request's" {
  jq -nc '{kind: "ConfigMap", metadata: {name: "x"}}' >"$FAKE/ok.json"
  jq -nc '{kind: "Status", code: 403, message: "forbidden here"}' >"$FAKE/403.json"
  route GET /configmaps/x 200 "$FAKE/ok.json"
  route GET /deployments/x 404
  route GET /services/x 403 "$FAKE/403.json"
  api_batch_get_child demo configmaps x "$ANSWER.0"
  api_batch_get_child demo deployments x "$ANSWER.1"
  api_batch_get_child demo services x "$ANSWER.2"
  api_batch_run "$BATS_TEST_TMPDIR/errors"
  [ "${API_BATCH_STATUS[*]}" = "200 404 403" ]
  api_batch_result 0 "$ANSWER.0"
  [ "$(jq -c .metadata "$ANSWER.0")" = '{"name":"x"}' ]
  if api_batch_result 1 "$ANSWER.1"; then false; fi
  [ "$API_STATUS" = 404 ]
  if api_batch_result 2 "$ANSWER.2"; then false; fi
  [ "$API_ERROR" = "forbidden here (HTTP 403)" ]
  [ "$(wc -l <"$FAKE/calls")" -eq 3 ]
  [ ${#API_BATCH_ARGS[@]} -eq 0 ] # the queue is empty again
}

@test "the proxy: started on a socket in the private directory; one that ends at once is a one-line error" {
  stop_fake_proxy
  # shellcheck disable=SC2016 # the stand-in kubectl's own $1 and $2
  printf '#!/usr/bin/env bash\n[[ $1 == proxy ]] && exec python3 "%s" "${2#--unix-socket=}"\n' \
    "$BATS_TEST_DIRNAME/stubs/fake-api-proxy" >"$BATS_TEST_TMPDIR/kubectl"
  chmod +x "$BATS_TEST_TMPDIR/kubectl"
  KUBECTL=("$BATS_TEST_TMPDIR/kubectl")
  api_proxy_start "$RUN"
  [ "$API_SOCKET" = "$RUN/api.sock" ]
  [ -S "$API_SOCKET" ]
  kill "$API_PROXY_PID"
  printf '#!/usr/bin/env bash\necho "error: unknown flag: --unix-socket" >&2\nexit 1\n' >"$BATS_TEST_TMPDIR/kubectl"
  api_proxy_start "$RUN" || status=$?
  [ "$status" -eq 1 ]
  [ "$REPLY" = "error: unknown flag: --unix-socket" ]
}

@test "the manager stops with one line and exit 1 when the proxy has died" {
  shutdown() {
    echo "shutdown $1"
    exit "$1"
  }
  sleep 0 &
  API_PROXY_PID=$!
  wait "$API_PROXY_PID"
  run require_api_proxy
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 2 ]
  [[ ${lines[0]} == *"error: the API proxy (kubectl proxy) ended; stopping" ]]
  sleep 30 &
  API_PROXY_PID=$!
  run require_api_proxy
  kill "$API_PROXY_PID"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}
