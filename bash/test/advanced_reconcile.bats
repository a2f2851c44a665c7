#!/usr/bin/env bats
# One reconcile's decisions (bash/advanced/reconciler.jq through reconcile_plan): the plan of writes that
# reconciler.sh carries out, from the cache alone.
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  RECONCILE_NOW=2030-01-01T00:00:00Z RECONCILE_HASH="" key=demo/hello IDENTITY_JSON='"test"'
  mkdir -p "$RUN/cache/staticsites/demo" "$RUN/cache/configmaps/demo" "$RUN/cache/deployments/demo" \
    "$RUN/cache/services/demo"
  site=$RUN/cache/staticsites/demo/hello.json
  site hello >"$site"
  content_hash "$site" # what the planner computes from the content (the tests keep the same content)
  hash=$REPLY
  RECONCILE_HASH=$hash # what the main phase of a reconcile leaves for its later phases
  WORKER_ID=0 WORKDIR=$BATS_TEST_TMPDIR
  planner_start
}

teardown() {
  kill "$PLANNER_PID" 2>/dev/null || true
}

# plan PHASE [LIVE_FILE LOOKED_UP [APPLIED_FILE]]: the plan's lines, on stdout.
plan() {
  local out=$BATS_TEST_TMPDIR/plan.out
  reconcile_plan "$key" "$1" "$out" "${@:2}" || return 1
  cat "$out"
}

# cache_site [FILTER]: the site in the cache, with the finalizer, changed by FILTER.
cache_site() {
  site hello '.metadata.finalizers = ["sites.example.com/registry"]' | jq -c "${1:-.}" >"$site"
}

# cache_children: the children as the API server returns them after the controller's apply, the Deployment
# rolled out, and the registry with the site's key.
cache_children() {
  local children
  children=$(render_children "$site" "$hash")
  sed -n 1p <<<"$children" | jq -c '.metadata.uid = "c"' >"$RUN/cache/configmaps/demo/hello-content.json"
  sed -n 2p <<<"$children" | jq -c '.metadata.generation = 1
    | .status = {observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2}
    | .spec.template.spec.containers[0].imagePullPolicy = "IfNotPresent"' >"$RUN/cache/deployments/demo/hello.json"
  sed -n 3p <<<"$children" | jq -c '.spec.clusterIP = "10.0.0.1"' >"$RUN/cache/services/demo/hello.json"
  jq -nc '{metadata: {name: "staticsite-registry", namespace: "demo"},
    data: {hello: "http://hello.demo.svc.cluster.local"}}' \
    >"$RUN/cache/configmaps/demo/staticsite-registry.json"
}

# ready_status: the status the controller wrote when the site became Available.
ready_status='.status = {observedGeneration: 3, readyReplicas: 2, url: "http://hello.demo.svc.cluster.local",
  conditions: [{type: "Ready", status: "True", reason: "Available", message: "2/2 replicas ready",
                observedGeneration: 3, lastTransitionTime: "2029-01-01T00:00:00Z"}]}'

verbs() {
  cut -f1 <<<"$1" | tr '\n' ' '
}

@test "a new site: the finalizer, the registry (created), then a lookup of the children" {
  site hello >"$site"
  run plan main
  [ "$status" -eq 0 ]
  [ "$(verbs "$output")" = "finalizer-add registry-add lookup " ]
  [ "$(cut -f2 <<<"${lines[0]}")" = '{"metadata":{"finalizers":["sites.example.com/registry"],"resourceVersion":"100"}}' ]
  [ "$(cut -f2 <<<"${lines[1]}")" = '{"data":{"hello":"http://hello.demo.svc.cluster.local"}}' ]
  [ "$(cut -f4 <<<"${lines[1]}")" = create ]
  [ "$(cut -f3 <<<"${lines[1]}" | jq -c .metadata.labels)" = '{"app.kubernetes.io/name":"staticsite","app.kubernetes.io/managed-by":"staticsite-controller"}' ]
  [ "$(cut -f2 <<<"${lines[2]}")" = "configmaps/hello-content deployments/hello services/hello" ]
}

@test "the finalizer is added after the finalizers of others" {
  site hello '.metadata.finalizers = ["other/x"]' >"$site"
  run plan main
  [ "$(cut -f2 <<<"${lines[0]}")" = '{"metadata":{"finalizers":["other/x","sites.example.com/registry"],"resourceVersion":"100"}}' ]
}

@test "nothing found by the lookup: apply all three and the Synced event naming them, then the status" {
  cache_site
  jq -nc '{data: {hello: "http://hello.demo.svc.cluster.local"}}' >"$RUN/cache/configmaps/demo/staticsite-registry.json"
  : >"$BATS_TEST_TMPDIR/live"
  run plan children "$BATS_TEST_TMPDIR/live" "configmaps/hello-content deployments/hello services/hello"
  [ "$(verbs "$output")" = "apply apply apply synced restatus " ]
  [ "$(cut -f2 <<<"$output" | head -3 | tr '\n' ' ')" = "configmaps/hello-content deployments/hello services/hello " ]
  [ "$(cut -f3 <<<"$output" | head -3 | jq -r .kind | tr '\n' ' ')" = "ConfigMap Deployment Service " ]
  local event
  event=$(cut -f2 <<<"${lines[3]}")
  [ "$(jq -r '"\(.type) \(.reason) \(.message)"' <<<"$event")" = "Normal Synced applied ConfigMap hello-content, Deployment hello, Service hello" ]
  [ "$(jq -r '"\(.involvedObject.kind) \(.involvedObject.uid) \(.source.component)"' <<<"$event")" = "StaticSite uid-1 staticsite-controller" ]
  [[ $(jq -r .metadata.name <<<"$event") =~ ^hello\.[0-9a-f]{16}$ ]]
}

@test "after the apply the status is Progressing with the Deployment the apply returned" {
  cache_site
  render_children "$site" "$hash" | sed -n 2p | jq -c '.metadata.generation = 1' >"$BATS_TEST_TMPDIR/applied"
  run plan status /dev/null "configmaps/hello-content deployments/hello services/hello" \
    "$BATS_TEST_TMPDIR/applied"
  [ "$(verbs "$output")" = "status " ]
  [ "$(cut -f2 <<<"${lines[0]}" | jq -c '[.metadata, .status.conditions[0].reason, .status.conditions[0].message]')" = '[{"name":"hello","namespace":"demo"},"Progressing","0/2 replicas ready"]' ]
}

@test "a reconciled site with nothing changed: no write at all" {
  cache_site "$ready_status"
  cache_children
  run plan main
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "the Deployment rolled out since the last status: only the status, Available" {
  cache_site '.status = {observedGeneration: 3, readyReplicas: 1, url: "http://hello.demo.svc.cluster.local",
    conditions: [{type: "Ready", status: "False", reason: "Progressing", message: "1/2 replicas ready",
                  observedGeneration: 3, lastTransitionTime: "2029-01-01T00:00:00Z"}]}'
  cache_children
  run plan main
  [ "$(verbs "$output")" = "status " ]
  [ "$(cut -f2 <<<"$output" | jq -c '.status.conditions[0] | [.status, .reason, .message, .lastTransitionTime]')" = '["True","Available","2/2 replicas ready","2030-01-01T00:00:00Z"]' ]
}

@test "a drifted Deployment in the cache is applied at once, without a live GET" {
  cache_site "$ready_status"
  cache_children
  jq -c '.spec.replicas = 5' "$RUN/cache/deployments/demo/hello.json" >"$BATS_TEST_TMPDIR/d" &&
    mv "$BATS_TEST_TMPDIR/d" "$RUN/cache/deployments/demo/hello.json"
  run plan main
  [ "$(verbs "$output")" = "apply synced restatus " ]
  [ "$(cut -f2 <<<"${lines[0]}")" = deployments/hello ]
}

# last_apply RESOURCE FILTER: the answer of the controller's last apply of the cached child, changed by FILTER.
last_apply() {
  local cached=$RUN/cache/$1/demo/hello.json
  [[ $1 == configmaps ]] && cached=$RUN/cache/$1/demo/hello-content.json
  mkdir -p "$RUN/applied/demo"
  jq -c "$2" "$cached" >"$RUN/applied/demo/hello.$1.json"
}

@test "the cache behind the last apply: judged on the apply's answer, no write" {
  cache_site "$ready_status"
  cache_children
  last_apply deployments '.metadata.resourceVersion = "12"'
  jq -c '.metadata.resourceVersion = "11" | .spec.replicas = 5' "$RUN/cache/deployments/demo/hello.json" \
    >"$BATS_TEST_TMPDIR/d" && mv "$BATS_TEST_TMPDIR/d" "$RUN/cache/deployments/demo/hello.json"
  run plan main
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "a cached child later than the last apply wins: drift after the apply is applied" {
  cache_site "$ready_status"
  cache_children
  last_apply deployments '.metadata.resourceVersion = "12"'
  jq -c '.metadata.resourceVersion = "13" | .spec.replicas = 5' "$RUN/cache/deployments/demo/hello.json" \
    >"$BATS_TEST_TMPDIR/d" && mv "$BATS_TEST_TMPDIR/d" "$RUN/cache/deployments/demo/hello.json"
  run plan main
  [ "$(verbs "$output")" = "apply synced restatus " ]
}

@test "a child gone from the cache is looked up live, whatever its last apply returned" {
  cache_site "$ready_status"
  cache_children
  last_apply services '.metadata.resourceVersion = "99"'
  rm "$RUN/cache/services/demo/hello.json"
  run plan main
  [ "$output" = $'lookup\tservices/hello' ]
}

@test "a cached child now another site's: ChildConflict, no apply and no GET" {
  cache_site "$ready_status"
  cache_children
  jq -c '.spec.replicas = 7 | .metadata.ownerReferences[0] += {name: "other", uid: "uid-other"}' \
    "$RUN/cache/deployments/demo/hello.json" >"$BATS_TEST_TMPDIR/d" &&
    mv "$BATS_TEST_TMPDIR/d" "$RUN/cache/deployments/demo/hello.json"
  run plan main
  [ "$(verbs "$output")" = "status event error " ]
}

@test "drift confirmed live: the Deployment alone is applied, and only it is named" {
  cache_site "$ready_status"
  cache_children
  jq -c '.kind = "Deployment" | .spec.replicas = 5' "$RUN/cache/deployments/demo/hello.json" >"$BATS_TEST_TMPDIR/live"
  run plan children "$BATS_TEST_TMPDIR/live" deployments/hello
  [ "$(verbs "$output")" = "apply synced restatus " ]
  [ "$(cut -f3 <<<"${lines[0]}" | jq -c '[.kind, .spec.replicas]')" = '["Deployment",2]' ]
  [ "$(cut -f2 <<<"${lines[1]}" | jq -r .message)" = "applied Deployment hello" ]
}

@test "drift in the cache, but live the Deployment is now another site's: ChildConflict, no apply" {
  cache_site "$ready_status"
  cache_children
  jq -c '.spec.replicas = 5' "$RUN/cache/deployments/demo/hello.json" >"$BATS_TEST_TMPDIR/d" &&
    mv "$BATS_TEST_TMPDIR/d" "$RUN/cache/deployments/demo/hello.json"
  jq -c '.kind = "Deployment" | .spec.replicas = 7
    | .metadata.ownerReferences[0] += {name: "other", uid: "uid-other"}' \
    "$RUN/cache/deployments/demo/hello.json" >"$BATS_TEST_TMPDIR/live"
  run plan children "$BATS_TEST_TMPDIR/live" deployments/hello
  [ "$(verbs "$output")" = "status event error " ]
  [ "$(cut -f2 <<<"${lines[2]}")" = 'Deployment hello exists and is not controlled by this StaticSite' ]
}

@test "no drift live (the cache was behind): no write" {
  cache_site "$ready_status"
  cache_children
  jq -c '.kind = "Deployment"' "$RUN/cache/deployments/demo/hello.json" >"$BATS_TEST_TMPDIR/live"
  jq -c '.spec.replicas = 5' "$RUN/cache/deployments/demo/hello.json" >"$BATS_TEST_TMPDIR/d" &&
    mv "$BATS_TEST_TMPDIR/d" "$RUN/cache/deployments/demo/hello.json"
  run plan children "$BATS_TEST_TMPDIR/live" deployments/hello
  [ -z "$output" ]
}

@test "a child looked up and not found is applied even if the cache still has it" {
  cache_site "$ready_status"
  cache_children
  : >"$BATS_TEST_TMPDIR/live"
  run plan children "$BATS_TEST_TMPDIR/live" services/hello
  [ "$(cut -f2 <<<"${lines[1]}" | jq -r .message)" = "applied Service hello" ]
}

@test "a child of someone else: ChildConflict status and event, an error, and no apply" {
  cache_site
  jq -nc '{metadata: {name: "staticsite-registry"}, data: {hello: "http://hello.demo.svc.cluster.local"}}' \
    >"$RUN/cache/configmaps/demo/staticsite-registry.json"
  jq -nc '{apiVersion: "v1", kind: "ConfigMap",
    metadata: {name: "hello-content", namespace: "demo", labels: {owner: "someone-else"}}, data: {keep: "me"}}' \
    >"$BATS_TEST_TMPDIR/live"
  run plan children "$BATS_TEST_TMPDIR/live" "configmaps/hello-content deployments/hello services/hello"
  [ "$(verbs "$output")" = "status event error " ]
  local message="ConfigMap hello-content exists and is not controlled by this StaticSite"
  [ "$(cut -f2 <<<"${lines[0]}" | jq -r '.status.conditions[0] | "\(.status) \(.reason) \(.message)"')" = "False ChildConflict $message" ]
  [ "$(cut -f2 <<<"${lines[1]}" | jq -r '"\(.type) \(.reason) \(.message)"')" = "Warning ChildConflict $message" ]
  # A retry with the status already saying so: only the error, no second event.
  cut -f2 <<<"${lines[0]}" | jq -c --slurpfile site "$site" '$site[0] + {status: .status}' >"$BATS_TEST_TMPDIR/s"
  mv "$BATS_TEST_TMPDIR/s" "$site"
  run plan children "$BATS_TEST_TMPDIR/live" "configmaps/hello-content deployments/hello services/hello"
  [ "$(verbs "$output")" = "error " ]
}

@test "conflicts are named in the order ConfigMap, Deployment, Service" {
  cache_site
  jq -nc '{metadata: {name: "staticsite-registry"}, data: {hello: "http://hello.demo.svc.cluster.local"}}' \
    >"$RUN/cache/configmaps/demo/staticsite-registry.json"
  # What lookup_children writes: the answers found, separated by commas.
  jq -nc '{kind: "Service", metadata: {name: "hello"}},
    {kind: "Deployment", metadata: {name: "hello", ownerReferences: [{uid: "other", controller: true}]}}' |
    paste -sd, >"$BATS_TEST_TMPDIR/live"
  run plan children "$BATS_TEST_TMPDIR/live" "configmaps/hello-content deployments/hello services/hello"
  [ "$(cut -f2 <<<"${lines[2]}")" = 'Deployment hello exists and is not controlled by this StaticSite' ]
}

@test "an invalid name: InvalidSpec status and event once, and nothing else" {
  site=$RUN/cache/staticsites/demo/1st-site.json key=demo/1st-site
  site 1st-site '.metadata.finalizers = ["sites.example.com/registry"]' >"$site"
  run plan main
  [ "$(verbs "$output")" = "status event " ]
  [ "$(cut -f2 <<<"${lines[0]}" | jq -r '.status.conditions[0].reason')" = InvalidSpec ]
  [ "$(cut -f2 <<<"${lines[1]}" | jq -r '"\(.type) \(.reason)"')" = "Warning InvalidSpec" ]
  # Once the status says so, a reconcile of the same spec writes nothing (no second event).
  cut -f2 <<<"${lines[0]}" | jq -c --slurpfile site "$site" '$site[0] + {status: .status}' >"$BATS_TEST_TMPDIR/s"
  mv "$BATS_TEST_TMPDIR/s" "$site"
  run plan main
  [ -z "$output" ]
}

@test "a site being deleted: the registry key, then the finalizer (others kept), nothing else" {
  cache_site '.metadata.deletionTimestamp = "2030-01-01T00:00:00Z"
    | .metadata.finalizers = ["a/b", "sites.example.com/registry"]'
  cache_children
  run plan main
  [ "$(verbs "$output")" = "registry-remove finalizer-remove " ]
  [ "$(cut -f2 <<<"${lines[0]}")" = '{"data":{"hello":null}}' ]
  [ "$(cut -f2 <<<"${lines[1]}")" = '{"metadata":{"finalizers":["a/b"],"resourceVersion":"100"}}' ]
}

@test "a site being deleted without the finalizer: nothing to do" {
  site hello '.metadata.deletionTimestamp = "2030-01-01T00:00:00Z" | .metadata.finalizers = ["a/b"]' >"$site"
  run plan main
  [ -z "$output" ]
}

@test "a registry with another URL for the site is patched, not created" {
  cache_site "$ready_status"
  cache_children
  jq -nc '{metadata: {name: "staticsite-registry"}, data: {hello: "http://old"}}' \
    >"$RUN/cache/configmaps/demo/staticsite-registry.json"
  run plan main
  [ "$(verbs "$output")" = "registry-add " ]
  [ "$(cut -f4 <<<"$output")" = patch ]
}

@test "a site gone from the cache: nothing (reconcile returns at once)" {
  WORKDIR=$BATS_TEST_TMPDIR
  run reconcile demo/absent
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "content too large for a ConfigMap: InvalidSpec status and event naming the size, and nothing else" {
  # 20 files of 16384 emoji: what maxLength (characters) lets in, 1.25 MiB of UTF-8.
  cache_site '.spec.content = ([range(20) | {key: "f\(if . < 10 then "0" else "" end)\(.)", value: ("😀" * 16384)}]
    | from_entries)'
  run plan main
  [ "$(verbs "$output")" = "status event " ]
  local message="content is 1310780 bytes: a ConfigMap holds at most 1048576 bytes (1 MiB) of file names and bodies"
  [ "$(cut -f2 <<<"${lines[0]}" | jq -r '.status.conditions[0] | "\(.reason) \(.message)"')" = "InvalidSpec $message" ]
  [ "$(cut -f2 <<<"${lines[1]}" | jq -r '"\(.type) \(.reason) \(.message)"')" = "Warning InvalidSpec $message" ]
}

@test "content of exactly 1 MiB is applied" {
  cache_site '.spec.content = ([range(15) | {key: "f\(if . < 10 then "0" else "" end)\(.)", value: ("😀" * 16384)}]
    | from_entries) + {f15: ("😀" * 16372)}'
  run plan main
  [ "$(verbs "$output")" = "registry-add lookup " ]
}

@test "a child the API server refused as invalid: InvalidSpec with the server's reason, once" {
  cache_site
  local message='ConfigMap "hello-content" is invalid: []: Too long: may not be more than 1048576 bytes'
  jq -nc --arg message "$message" '{target: "configmaps/hello-content", message: $message}' >"$WORKDIR/refused"
  run plan refused /dev/null "" /dev/null "$WORKDIR/refused"
  [ "$(verbs "$output")" = "status event " ]
  message="ConfigMap hello-content cannot be written: $message"
  [ "$(cut -f2 <<<"${lines[0]}" | jq -r '.status.conditions[0] | "\(.reason) \(.message)"')" = "InvalidSpec $message" ]
  [ "$(cut -f2 <<<"${lines[1]}" | jq -r '"\(.type) \(.reason) \(.message)"')" = "Warning InvalidSpec $message" ]
}

@test "a refusal that names no child of the site is an error to retry, not InvalidSpec" {
  cache_site
  jq -nc '{target: "services/other", message: "Service \"other\" is invalid"}' >"$WORKDIR/refused"
  run plan refused /dev/null "" /dev/null "$WORKDIR/refused"
  [ "$(verbs "$output")" = "error " ]
}

@test "the applies go on past a refused child; the refusal replaces the Synced event" {
  cache_site
  start_fake_proxy
  jq -nc '{kind: "Status", code: 422, message: "Deployment \"hello\" is invalid: spec: bad"}' >"$FAKE/422.json"
  jq -nc '{kind: "Service", metadata: {name: "hello"}}' >"$FAKE/service.json"
  route PATCH /deployments/hello 422 "$FAKE/422.json"
  route PATCH /services/hello 200 "$FAKE/service.json"
  route PATCH /staticsites/hello/status 200 "$FAKE/service.json"
  printf 'apply\tdeployments/hello\t{}\napply\tservices/hello\t{}\nsynced\t{"n":1}\nrestatus\n' >"$WORKDIR/plan"
  reconcile_execute "$key" "$WORKDIR/plan" || status=$?
  stop_fake_proxy
  [ "${status:-0}" -eq 0 ]
  [ "$(cut -d' ' -f1 "$FAKE/calls" | tr '\n' ' ')" = "PATCH PATCH PATCH " ] # both applies, then the status
  [[ $(sed -n 3p "$FAKE/calls") == *"/staticsites/hello/status?fieldManager=staticsite-controller&force=true" ]]
  [ "$(jq -r '.status.conditions[0].message' "$FAKE/body.3")" = 'Deployment hello cannot be written: Deployment "hello" is invalid: spec: bad' ]
}

@test "finalizing: the key removed (through the group commit) is marked as on its way out, then the finalizer" {
  cache_site
  start_fake_proxy
  route PATCH /configmaps/staticsite-registry 200
  route PATCH /staticsites/hello 200
  printf 'registry-remove\t{"data":{"hello":null}}\nfinalizer-remove\t{"metadata":{"finalizers":[]}}\n' \
    >"$WORKDIR/plan"
  reconcile_execute "$key" "$WORKDIR/plan"
  [ -e "$RUN/registry-removed/demo/hello" ]
  [ "$(cut -d' ' -f1 "$FAKE/calls" | tr '\n' ' ')" = "PATCH PATCH " ]
  [ "$(cat "$FAKE/body.1")" = '{"data":{"hello":null}}' ]
  rm "$RUN/registry-removed/demo/hello"
  : >"$FAKE/routes"
  route PATCH /configmaps/staticsite-registry 500 # a failed removal: no mark, no finalizer removal
  run reconcile_execute "$key" "$WORKDIR/plan"
  stop_fake_proxy
  [ "$status" = 1 ] && [ ! -e "$RUN/registry-removed/demo/hello" ]
  [ "$(wc -l <"$FAKE/calls")" = 3 ]
}

@test "an event is written in the background: event_send returns while the write hangs; no slot left: dropped" {
  WORKER_ID=0
  start_fake_proxy
  route POST /events hang
  local first second
  event_send demo/hello '{"n":1}'
  first=$!
  event_send demo/hello '{"n":2}'
  second=$!
  [ -s "$RUN/event-writer.0.1" ] && [ -s "$RUN/event-writer.0.2" ] # both still in flight
  run event_send demo/hello '{"n":3}'
  [[ $output == *"dropping an event: 2 events of this worker are still being written"* ]]
  # Each write ends at EVENT_TIMEOUT (here 1 s), is logged, and frees its slot.
  EVENT_TIMEOUT=1
  wait "$first" "$second"
  stop_fake_proxy
  [ ! -s "$RUN/event-writer.0.1" ] && [ ! -s "$RUN/event-writer.0.2" ]
  [ "$(grep -c 'POST /api/v1/namespaces/demo/events' "$FAKE/calls")" -eq 2 ]
}

@test "the content hash is computed once per uid and generation, then taken from the memo" {
  site hello '.spec.content = {"index.html": "<h1>hello</h1>"}' >"$site"
  plan main >/dev/null
  [ "$(cat "$RUN/hash/demo/hello")" = "uid-1 3 eb513b048a93ec67b205bd790ce62d1122e88618146e3d6dfa6daef44f47eb2b" ]
  local memo
  memo=$(printf 'a%.0s' {1..64})
  echo "uid-1 3 $memo" >"$RUN/hash/demo/hello"
  : >"$BATS_TEST_TMPDIR/live"
  reconcile_plan "$key" main "$BATS_TEST_TMPDIR/out"
  [ "$RECONCILE_HASH" = "$memo" ] # the memo is trusted for the same uid and generation
  site hello '.metadata.generation = 4 | .spec.content = {"index.html": "<h1>hello</h1>"}' >"$site"
  reconcile_plan "$key" main "$BATS_TEST_TMPDIR/out"
  [ "$RECONCILE_HASH" = eb513b048a93ec67b205bd790ce62d1122e88618146e3d6dfa6daef44f47eb2b ]
}

@test "an answer meant for another request is skipped" {
  printf 'PLAN stale.1.main 6\nerror\n' >&"$PLANNER_OUT"
  run plan main
  [ "$status" -eq 0 ]
  [ "$(verbs "$output")" = "finalizer-add registry-add lookup " ]
}

@test "a site our last write returned is used while the cache still has the older one, and only then" {
  RUN=$BATS_TEST_TMPDIR/run
  printf '%s' '{"metadata":{"name":"web","namespace":"demo","resourceVersion":"12","finalizers":["f"]}}' \
    >"$BATS_TEST_TMPDIR/answer"
  remember_site demo web "$BATS_TEST_TMPDIR/answer"
  fresher_site demo web '{"metadata":{"name":"web","namespace":"demo","resourceVersion":"9"}}'
  [[ $REPLY == *'"resourceVersion":"12"'* ]]
  fresher_site demo web '{"metadata":{"name":"web","namespace":"demo","resourceVersion":"100"}}' # caught up, and more
  [[ $REPLY == *'"resourceVersion":"100"'* ]]
  fresher_site demo web null # gone from the cache: gone
  [ "$REPLY" = null ]
  forget_site demo web
  fresher_site demo web '{"metadata":{"name":"web","namespace":"demo","resourceVersion":"9"}}'
  [[ $REPLY == *'"resourceVersion":"9"'* ]]
}
