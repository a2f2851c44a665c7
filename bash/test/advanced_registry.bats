#!/usr/bin/env bats
# The registry is exact (SPEC.md, "Finalizer and registry"): its events queue the sites whose key is missing
# or wrong (informer.sh), and a reconcile adds its own key and removes stray ones (reconciler.jq).
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  INF_RESOURCE=configmaps
  INF_DIR=$RUN/cache/configmaps
  declare -gA INF_OWNERS=() INF_SEEN=() INF_IGNORED=()
  INF_EVENTS=0
  QUEUE_FILE=$BATS_TEST_TMPDIR/queue
  : >"$QUEUE_FILE"
  exec {INF_QUEUE}>>"$QUEUE_FILE"
  mkdir -p "$RUN/cache/staticsites/demo"
  local name
  for name in a b 1st; do site "$name" >"$RUN/cache/staticsites/demo/$name.json"; done
}

# registry_event TYPE DATA: a watch event of the demo registry with that data.
registry_event() {
  jq -nc --arg type "$1" --argjson data "$2" '{type: $type, object: {metadata: {name: "staticsite-registry",
    namespace: "demo", resourceVersion: "5", labels: {"app.kubernetes.io/managed-by": "staticsite-controller"}},
    data: $data}}' | advanced_jq -j --arg resource configmaps 'include "informer"; watch_record($resource)' \
    >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records"
}

# queued: the keys the informer queued, sorted; an `add-namespace NS` message stands for the keys the
# dispatcher adds for it (queue_add_namespace), each as its own `add KEY`.
queued() {
  local command argument
  queue_init
  while IFS=' ' read -r command argument; do
    if [[ $command == add-namespace ]]; then queue_add_namespace "$argument"; else printf '%s %s\n' "$command" "$argument"; fi
  done <"$QUEUE_FILE" >"$BATS_TEST_TMPDIR/queued"
  while queue_pop; do printf 'add %s\n' "$REPLY"; done >>"$BATS_TEST_TMPDIR/queued"
  sort "$BATS_TEST_TMPDIR/queued" | tr '\n' ' '
}

url() {
  echo "http://$1.demo.svc.cluster.local"
}

@test "a registry with every key right queues nothing" {
  registry_event ADDED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  [ "$(queued)" = "" ]
  [ -f "$INF_DIR/demo/staticsite-registry.json" ]
}

@test "a missing or wrong key queues that site only (a site that cannot hold a key is never queued)" {
  registry_event MODIFIED "{\"a\": \"$(url a)\"}"
  [ "$(queued)" = "add demo/b " ]
  : >"$QUEUE_FILE"
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"http://elsewhere\"}"
  [ "$(queued)" = "add demo/a add demo/b " ] # another value: perhaps a stray; every site looks
}

@test "after a change with every key right, a key added queues nothing; a key removed queues its site only" {
  site c >"$RUN/cache/staticsites/demo/c.json"
  registry_event ADDED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  : >"$QUEUE_FILE"
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\", \"c\": \"$(url c)\"}"
  [ "$(queued)" = "" ] # c had no key before: its own reconcile, queued by its own event, wrote it
  registry_event MODIFIED "{\"b\": \"$(url b)\", \"c\": \"$(url c)\"}"
  [ "$(queued)" = "add demo/a " ]
}

@test "a stray key queues every site (that can hold a key), in one message" {
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\", \"gone\": \"$(url gone)\"}"
  [ "$(cat "$QUEUE_FILE")" = "add-namespace demo" ]
  [ "$(queued)" = "add demo/a add demo/b " ]
  : >"$QUEUE_FILE"
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\", \"Not.A-Site\": \"x\"}"
  [ "$(queued)" = "add demo/a add demo/b " ]
}

@test "a deleted registry queues every site, from a watch or from a relist" {
  registry_event ADDED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  registry_event DELETED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  [ "$(queued)" = "add demo/a add demo/b " ]
  [ ! -e "$INF_DIR/demo/staticsite-registry.json" ]
  registry_event ADDED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  : >"$QUEUE_FILE"
  informer_delete "$INF_DIR/demo/staticsite-registry.json" # what informer_list does for what it no longer lists
  [ "$(queued)" = "add demo/a add demo/b " ]
}

@test "a ConfigMap of that name controlled by a site is that site's, not the registry" {
  jq -nc '{type: "ADDED", object: {metadata: {name: "staticsite-registry", namespace: "demo", resourceVersion: "5",
    ownerReferences: [{apiVersion: "sites.example.com/v1alpha1", kind: "StaticSite", name: "a", uid: "u",
                       controller: true}]}, data: {}}}' |
    advanced_jq -j --arg resource configmaps 'include "informer"; watch_record($resource)' >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records"
  [ "$(queued)" = "add demo/a " ]
}

# ----- reconciler.jq: the registry step ------------------------------------------------------------------
plan_registry() {
  RECONCILE_NOW=2030-01-01T00:00:00Z IDENTITY_JSON='"test"'
  site=$RUN/cache/staticsites/demo/a.json
  site a '.metadata.finalizers = ["sites.example.com/registry"]' >"$site"
  content_hash "$site"
  RECONCILE_HASH=$REPLY
  WORKER_ID=0 WORKDIR=$BATS_TEST_TMPDIR
  planner_start
  reconcile_plan demo/a main "$BATS_TEST_TMPDIR/plan"
  kill "$PLANNER_PID"
  grep '^registry-add' "$BATS_TEST_TMPDIR/plan" | cut -f2,4 || true
}

registry_cache() {
  mkdir -p "$INF_DIR/demo"
  jq -nc --argjson data "$1" '{metadata: {name: "staticsite-registry", namespace: "demo"}, data: $data}' \
    >"$INF_DIR/demo/staticsite-registry.json"
}

@test "the reconcile removes stray keys with its own, in one merge patch" {
  registry_cache "{\"a\": \"$(url a)\", \"b\": \"$(url b)\", \"gone\": \"x\", \"1st\": \"y\", \"UP\": \"z\"}"
  run plan_registry
  [ "$output" = $'{"data":{"a":"http://a.demo.svc.cluster.local","1st":null,"UP":null,"gone":null}}\tpatch' ]
}

@test "the keys of cached sites stay (a site being deleted is finalized by its own reconcile)" {
  site b '.metadata.deletionTimestamp = "2030-01-01T00:00:00Z"' >"$RUN/cache/staticsites/demo/b.json"
  registry_cache "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  run plan_registry
  [ -z "$output" ] # exact already: no write
}

@test "a missing registry is created with the site's key" {
  run plan_registry
  [ "$output" = $'{"data":{"a":"http://a.demo.svc.cluster.local"}}\tcreate' ]
}

# ----- the informer's summary: what the reconcile reads instead of the whole registry ---------------------

@test "a registry event keeps a summary of its good keys; a deleted registry removes it" {
  registry_event ADDED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  [ "$(cat "$RUN/registry/demo")" = "only a b" ]
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"elsewhere\"}"
  [ "$(cat "$RUN/registry/demo")" = "other a" ]
  registry_event DELETED "{}"
  [ ! -e "$RUN/registry/demo" ]
}

@test "with a summary of only good keys the planner gets whether the site's key is there, not the object" {
  registry_cache "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  mkdir -p "$RUN/registry"
  echo "only a b" >"$RUN/registry/demo"
  cached_registry demo a
  [ "$REPLY" = '{"registered":true}' ] && [ "$REPLY_SITES" = "[]" ]
  run plan_registry
  [ -z "$output" ] # exact already
  echo "only b" >"$RUN/registry/demo"
  run plan_registry
  [ "$output" = $'{"data":{"a":"http://a.demo.svc.cluster.local"}}\tpatch' ]
  echo "other a b" >"$RUN/registry/demo" # other keys: the whole object again, and the cached sites
  cached_registry demo a
  [ "$(jq -c .data <<<"$REPLY")" = "{\"a\":\"$(url a)\",\"b\":\"$(url b)\"}" ]
  [ "$REPLY_SITES" = '["1st","a","b"]' ]
}

@test "a key of no cached site makes the summary other: the planner removes it as a stray" {
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\", \"gone\": \"$(url gone)\"}"
  [ "$(cat "$RUN/registry/demo")" = "other a b gone" ]
  run plan_registry
  [ "$output" = $'{"data":{"a":"http://a.demo.svc.cluster.local","gone":null}}\tpatch' ]
}

@test "a site that leaves the cache with its key still listed: the summary no longer vouches for the keys" {
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  [ "$(cat "$RUN/registry/demo")" = "only a b" ]
  registry_site_gone demo 1st # no key: nothing changes
  [ "$(cat "$RUN/registry/demo")" = "only a b" ]
  rm "$RUN/cache/staticsites/demo/b.json" # its finalizer removed by someone else: its key stays
  registry_site_gone demo b
  [ "$(cat "$RUN/registry/demo")" = "other a b" ]
}

@test "a key whose removal this controller made is on its way out, not stray, until an event shows it gone" {
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}"
  : >"$QUEUE_FILE"
  registry_key_removed demo b # b's finalizer removed its key, then the site left the cache
  rm "$RUN/cache/staticsites/demo/b.json"
  registry_site_gone demo b
  [ "$(cat "$RUN/registry/demo")" = "only a b" ] # the summary still vouches for the keys
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}" # an event from before the removal
  [ "$(cat "$RUN/registry/demo")" = "only a b" ] && [ "$(queued)" = "" ]
  registry_event MODIFIED "{\"a\": \"$(url a)\"}" # the removal seen: the mark goes
  [ ! -e "$RUN/registry-removed/demo/b" ] && [ "$(queued)" = "" ]
  registry_event MODIFIED "{\"a\": \"$(url a)\", \"b\": \"$(url b)\"}" # someone writes it back: stray
  [ "$(cat "$RUN/registry/demo")" = "other a b" ]
}

@test "a site back under a marked name takes its mark away when it adds its key" {
  registry_key_removed demo a
  WORKDIR=$BATS_TEST_TMPDIR
  start_fake_proxy
  route PATCH /configmaps/staticsite-registry 200
  registry_add demo "{\"data\":{\"a\":\"$(url a)\"}}" '{}' patch a
  [ ! -e "$RUN/registry-removed/demo/a" ]
}

# ----- the group commit (registry_patch) ------------------------------------------------------------------------

teardown() {
  stop_fake_proxy
}

# waiting NAME PATCH: another worker's change, waiting for the lock (as registry_patch leaves it).
waiting() {
  mkdir -p "$RUN/registry-writes/demo"
  printf '%s\n' "$2" >"$RUN/registry-writes/demo/$1.change"
}

# bodies: the body of every request the fake proxy got, one a line.
bodies() {
  local file
  for file in "$FAKE"/body.*; do cat "$file"; echo; done
}

@test "the changes waiting go in one merge patch, a later change of a key winning; each gets the outcome" {
  start_fake_proxy
  route PATCH /configmaps/staticsite-registry 200
  waiting 1000000000000001.11 "{\"data\":{\"a\":null,\"gone\":null}}"
  waiting 1000000000000002.22 "{\"data\":{\"a\":\"$(url a)\"}}"
  registry_patch demo '{"data":{"b":null}}' "$BATS_TEST_TMPDIR/answer"
  [ "$(wc -l <"$FAKE/calls")" = 1 ]
  [ "$(bodies)" = "{\"data\":{\"a\":\"$(url a)\",\"gone\":null,\"b\":null}}" ]
  [ "$(cat "$RUN/registry-writes/demo/1000000000000001.11.done")" = $'200\t' ]
  [ "$(cat "$RUN/registry-writes/demo/1000000000000002.22.done")" = $'200\t' ]
  [ "$(find "$RUN/registry-writes/demo" -name '*.change' -o -name "*.$BASHPID.done")" = "" ]
}

@test "a failed patch fails every change it carried, with its status and reason" {
  start_fake_proxy
  route PATCH /configmaps/staticsite-registry 404
  waiting 1000000000000001.11 '{"data":{"a":null}}'
  run registry_patch demo '{"data":{"b":null}}' "$BATS_TEST_TMPDIR/answer"
  [ "$status" = 1 ]
  registry_patch demo '{"data":{"c":null}}' "$BATS_TEST_TMPDIR/answer" || true
  [ "$API_STATUS" = 404 ] && [ -n "$API_ERROR" ]
  [[ $(cat "$RUN/registry-writes/demo/1000000000000001.11.done") == 404$'\t'?* ]]
}

@test "a change that is not exactly keys and URLs, or a namespace that is no label, is sent alone as it is" {
  start_fake_proxy
  route PATCH / 200
  waiting 1000000000000001.11 '{"data":{"a":null}}'
  local patch
  for patch in '{"data":{"a\"b":null}}' '{"data":{"a":"http://x,y"}}' '{"data":{"a":null},"metadata":{}}' \
    '{"data":{"a":null}} ' '{"data":{}}' $'{"data":{"a":null}}\n{"data":{"b":null}}'; do
    registry_patch demo "$patch" "$BATS_TEST_TMPDIR/answer"
    [ "$(cat "$FAKE/body.$(wc -l <"$FAKE/calls")")" = "$patch" ]
  done
  # shellcheck disable=SC2016 # meant literally
  for namespace in '../demo' 'a b' '$(touch pwned)' 'Demo' '' $'demo\n'; do
    registry_patch "$namespace" '{"data":{"a":null}}' "$BATS_TEST_TMPDIR/answer" || true # (api.sh's answer)
  done
  [ -f "$RUN/registry-writes/demo/1000000000000001.11.change" ] # never carried by any of those
  [ "$(ls "$RUN/registry-writes")" = demo ] && [ ! -e pwned ]
}

@test "workers at once: every change is written, each in exactly one patch, and every worker is answered" {
  start_fake_proxy
  route PATCH /configmaps/staticsite-registry 200
  local n pids=() keys
  for n in 1 2 3 4 5 6 7 8; do
    registry_patch demo "{\"data\":{\"k$n\":null}}" "$BATS_TEST_TMPDIR/answer.$n" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n"; done # each must succeed (bats fails the test on a non-zero status)
  keys=$(bodies | jq -r '.data | keys[]' | sort | tr '\n' ' ')
  [ "$keys" = "k1 k2 k3 k4 k5 k6 k7 k8 " ]
  [ "$(ls "$RUN/registry-writes/demo")" = lock ] # no change and no outcome left behind
}

@test "a lock that stays taken: a clear error, the change withdrawn, no request" {
  start_fake_proxy
  mkdir -p "$RUN/registry-writes/demo"
  local lock
  exec {lock}>>"$RUN/registry-writes/demo/lock"
  flock "$lock" # held here: as by a worker whose patch hangs
  REGISTRY_LOCK_TIMEOUT=0
  run registry_patch demo '{"data":{"a":null}}' "$BATS_TEST_TMPDIR/answer"
  [ "$status" = 1 ]
  registry_patch demo '{"data":{"a":null}}' "$BATS_TEST_TMPDIR/answer" || true
  [ "$API_STATUS" = 000 ] && [[ $API_ERROR == "the registry's lock stayed taken"* ]]
  [ ! -e "$FAKE/calls" ] || [ "$(wc -l <"$FAKE/calls")" = 0 ]
  [ "$(ls "$RUN/registry-writes/demo")" = lock ]
}
