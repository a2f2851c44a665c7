#!/usr/bin/env bats
# Hostile object fields are data, never syntax (informer.jq, informer.sh, reconciler.sh): owner names that no
# StaticSite can have, from the list the three languages share, and the review's forged frame.
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  NAMES=$BATS_TEST_DIRNAME/../../shared-manifests/testdata/hostile-owner-names.json
  INF_RESOURCE=configmaps
  INF_DIR=$RUN/cache/configmaps
  INF_ERR=$BATS_TEST_TMPDIR/err
  declare -gA INF_OWNERS=() INF_SEEN=() INF_IGNORED=()
  INF_EVENTS=0
  QUEUE_FILE=$BATS_TEST_TMPDIR/queue
  : >"$QUEUE_FILE"
  exec {INF_QUEUE}>>"$QUEUE_FILE"
}

frame_watch() {
  advanced_jq -j --arg resource "$INF_RESOURCE" 'include "informer"; watch_record($resource)'
}

# hostile_events TYPE: one labelled ConfigMap child-N per hostile name, controlled by "StaticSite" NAME.
hostile_events() {
  jq -c --arg type "$1" '.names | to_entries[] | {type: $type, object: {
    metadata: {name: "child-\(.key)", namespace: "demo", resourceVersion: "\(100 + .key)",
      labels: {"app.kubernetes.io/managed-by": "staticsite-controller"},
      ownerReferences: [{apiVersion: "sites.example.com/v1alpha1", kind: "StaticSite", name: .value.name,
                         uid: "no-such-uid", controller: true}]}}}' "$NAMES"
}

@test "the shared list has the names the issue asks for" {
  run jq -r '.names[].name' "$NAMES"
  [[ $output == *"a b"* && $output == *"../"* && $output == *'$('* && $output == *'"'* && $output == *"été"* ]]
  [ "$(jq '.names | length' "$NAMES")" -ge 10 ]
}

@test "hostile owner names: cached as data at their own path, nothing queued, one log line each, no replay" {
  local count
  count=$(jq '.names | length' "$NAMES")
  hostile_events ADDED | frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records" 2>"$BATS_TEST_TMPDIR/log"
  [ "$INF_EVENTS" -eq "$count" ]
  [ "$INF_RV" = $((100 + count - 1)) ] # the watch moves on: nothing to replay
  [ ! -s "$QUEUE_FILE" ]               # no site key at all
  # Every object at its own path, and nothing anywhere else.
  [ "$(cd "$RUN/cache" && find . -type f | sort)" = "$(for ((i = 0; i < count; i++)); do
    echo "./configmaps/demo/child-$i.json"
  done | sort)" ]
  [ "$(grep -c 'ignoring configmaps/demo/child-' "$BATS_TEST_TMPDIR/log")" -eq "$count" ]
  [ "$(wc -l <"$BATS_TEST_TMPDIR/log")" -eq "$count" ]
  # The objects are kept byte for byte (the owner name included).
  [ "$(jq -r '.metadata.ownerReferences[0].name' "$INF_DIR/demo/child-0.json")" = "a b" ]
  # Seen again (an update, a relist): no new log line, still nothing queued.
  hostile_events MODIFIED | frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records" 2>"$BATS_TEST_TMPDIR/log"
  [ ! -s "$BATS_TEST_TMPDIR/log" ]
  [ ! -s "$QUEUE_FILE" ]
}

@test "the review's forged frame forges nothing" {
  jq -c '.names[] | select(.why | startswith("the review")) | {type: "ADDED", object: {
    metadata: {name: "x", namespace: "attacker", resourceVersion: "7",
      ownerReferences: [{apiVersion: "sites.example.com/v1alpha1", kind: "StaticSite", name: .name, uid: "u",
                         controller: true}]}}}' "$NAMES" | frame_watch >"$BATS_TEST_TMPDIR/records"
  [ "$(grep -c . "$BATS_TEST_TMPDIR/records")" -eq 2 ] # one header, one object: the name stays inside the JSON
  informer_consume <"$BATS_TEST_TMPDIR/records" 2>/dev/null
  [ "$INF_RV" = 7 ]
  [ "$(cd "$RUN/cache" && find . -type f)" = ./configmaps/attacker/x.json ]
  [ ! -e "$RUN/cache/staticsites" ]
  [ ! -s "$QUEUE_FILE" ]
}

@test "an owner that becomes valid is queued again, and logged again if it turns hostile" {
  jq -nc '[{type: "ADDED", name: "a b"}, {type: "MODIFIED", name: "site-a"}, {type: "MODIFIED", name: "a b"}][]
    | {type, object: {metadata: {name: "c", namespace: "demo", resourceVersion: "1", ownerReferences: [
        {apiVersion: "sites.example.com/v1alpha1", kind: "StaticSite", name, uid: "u", controller: true}]}}}' |
    frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records" 2>"$BATS_TEST_TMPDIR/log"
  [ "$(cat "$QUEUE_FILE")" = $'add demo/site-a\nadd demo/site-a' ] # then the site it left
  [ "$(wc -l <"$BATS_TEST_TMPDIR/log")" -eq 2 ]
}

@test "an object whose own namespace or name is not valid is skipped, never a path" {
  jq -nc '{type: "ADDED", object: {metadata: {name: "../../x", namespace: "demo", resourceVersion: "4"}}},
          {type: "ADDED", object: {metadata: {name: "x", namespace: "a b", resourceVersion: "5"}}},
          {type: "ADDED", object: {metadata: {name: "x\n", namespace: "demo", resourceVersion: "6"}}},
          {type: "WEIRD TYPE", object: {}}' | frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records" 2>"$BATS_TEST_TMPDIR/log"
  [ "$INF_RV" = 6 ]
  [ -z "$(find "$RUN/cache" -type f)" ]
  [ "$(grep -c 'ignoring an object whose namespace or name is not valid' "$BATS_TEST_TMPDIR/log")" -eq 3 ]
}

@test "resourceVersions and continue tokens are one encoded word; ERROR codes are numbers" {
  jq -nc '{type: "BOOKMARK", object: {metadata: {resourceVersion: "1 2\nADDED"}}},
          {type: "ERROR", object: {code: "500 x", message: "a\nb\u0000c"}}' | frame_watch >"$BATS_TEST_TMPDIR/records"
  [ "$(cat "$BATS_TEST_TMPDIR/records")" = $'BOOKMARK 1%202%0AADDED\nERROR 0 a b c' ]
  jq -nc '{metadata: {resourceVersion: "9", continue: "a b&c=d"}, items: []}' |
    advanced_jq -j --arg resource configmaps 'include "informer"; list_records($resource)' >"$BATS_TEST_TMPDIR/records"
  [ "$(cat "$BATS_TEST_TMPDIR/records")" = "LIST 9 a%20b%26c%3Dd" ]
}

@test "the reconciler drops a key that is not NAMESPACE/NAME, with one line and no request" {
  WORKDIR=$BATS_TEST_TMPDIR
  API_SOCKET=$BATS_TEST_TMPDIR/none.sock # any request would fail the reconcile
  local key
  for key in "demo/../x" "../demo/x" "demo/a b" $'demo/a\nb' "demo/-n" "demo/" "/x" "demo/x/y" 'demo/$(id)' "Demo/x"; do
    run reconcile "$key"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ ${lines[0]} == *"ignoring the queue key"* ]]
  done
  run reconcile demo/a.b-1 # valid: gone from the cache, so nothing to do and nothing said
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "lookup targets are checked words before they become paths; a hostile one makes no request" {
  WORKDIR=$BATS_TEST_TMPDIR
  start_fake_proxy
  route GET /services/hello 404
  jq -nc '{kind: "ConfigMap", metadata: {name: "hello-content"}}' >"$FAKE/cm.json"
  route GET /configmaps/hello-content 200 "$FAKE/cm.json"
  route GET /deployments/hello 404
  lookup_children demo/hello "configmaps/hello-content deployments/hello services/hello" "$WORKDIR/live"
  # (sorted: the three GETs go out at once)
  [ "$(LC_ALL=C sort "$FAKE/calls")" = "GET /api/v1/namespaces/demo/configmaps/hello-content
GET /api/v1/namespaces/demo/services/hello
GET /apis/apps/v1/namespaces/demo/deployments/hello" ]
  [ "$(jq -c .metadata "$WORKDIR/live")" = '{"name":"hello-content"}' ] # the one found; 404s are absent
  local target
  # shellcheck disable=SC2016 # the $(...) is meant literally: a name, never run
  for target in 'services/$(id)' 'services/*' "secrets/x" "services/../../x" "services/a b" $'services/a\nb'; do
    : >"$FAKE/calls"
    run lookup_children demo/hello "configmaps/hello-content $target" "$WORKDIR/live"
    [ "$status" -eq 1 ]
    [[ $output == *"refusing to look up"* ]]
    [ ! -s "$FAKE/calls" ] # checked before any request
  done
  stop_fake_proxy
}

@test "a plan line cannot be split by the data it carries" {
  run advanced_jq -rn 'include "reconciler"; line("error"; ["a\nfinalizer-add\t{}"]), line("status"; [{m: "x\ny\tz"}])'
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = $'error\ta finalizer-add {}' ]
  [ "${lines[1]}" = $'status\t{"m":"x\\ny\\tz"}' ]
}

@test "is_dns_1035_label: the shared hostile names and the edge cases are judged as the regular expression does" {
  local name expected got
  local -a names=(a a- -a a--b 1a z9 A aB a_b 'a b' a.b $'a\nb' ../a "a'" '$(x)' é aé 😀 '' 'a*' '[a]' ǅ ı K
    "$(printf 'a%.0s' {1..63})" "$(printf 'a%.0s' {1..64})")
  mapfile -t -O "${#names[@]}" names < <(jq -r '.names[].name | select(test("\n") | not)' "$NAMES")
  for name in "${names[@]}"; do
    expected=no got=no
    if [[ ${#name} -le 63 && $name =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]]; then expected=yes; fi
    if is_dns_1035_label "$name"; then got=yes; fi
    [ "$got" = "$expected" ] || { echo "${name@Q}: $got, expected $expected"; false; }
  done
}
