#!/usr/bin/env bats
# The informer (bash/advanced/informer.sh, informer.jq): framing, the cache, the keys it queues, relists.
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  INF_RESOURCE=deployments
  INF_DIR=$RUN/cache/deployments
  INF_ERR=$BATS_TEST_TMPDIR/err
  declare -gA INF_OWNERS=() INF_SEEN=()
  INF_EVENTS=0
  QUEUE_FILE=$BATS_TEST_TMPDIR/queue
  exec {INF_QUEUE}>>"$QUEUE_FILE" # appending: the tests empty it
}

# child NAME OWNER [RV]: a Deployment controlled by the site OWNER ("" for none).
child() {
  jq -nc --arg name "$1" --arg owner "$2" --arg rv "${3:-1}" '{metadata: {name: $name, namespace: "demo",
    resourceVersion: $rv, managedFields: [{manager: "x"}], annotations: {note: "é ünïcode"},
    ownerReferences: (if $owner == "" then [] else
      [{apiVersion: "sites.example.com/v1alpha1", kind: "StaticSite", name: $owner, uid: "u", controller: true}] end)}}'
}

frame_watch() {
  advanced_jq -j --arg resource "$INF_RESOURCE" 'include "informer"; watch_record($resource)'
}

@test "watch events land in the cache without managedFields, and queue the owner's key" {
  {
    jq -nc --argjson o "$(child web site-a 5)" '{type: "ADDED", object: $o}'
    jq -nc --argjson o "$(child orphan "" 6)" '{type: "ADDED", object: $o}'
    jq -nc '{type: "BOOKMARK", object: {metadata: {resourceVersion: "9"}}}'
  } | frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records"
  [ "$INF_RV" = 9 ]
  [ "$INF_EVENTS" -eq 3 ]
  [ "$(jq -c '[.metadata.managedFields, .metadata.annotations.note]' "$INF_DIR/demo/web.json")" = '[null,"é ünïcode"]' ]
  [ -f "$INF_DIR/demo/orphan.json" ]
  [ "$(cat "$QUEUE_FILE")" = "add demo/site-a" ]
}

@test "a StaticSite queues its own key" {
  INF_RESOURCE=staticsites INF_DIR=$RUN/cache/staticsites
  jq -nc '{type: "MODIFIED", object: {metadata: {name: "a.b", namespace: "demo", resourceVersion: "3"}}}' |
    frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records"
  [ -f "$RUN/cache/staticsites/demo/a.b.json" ]
  [ "$(cat "$QUEUE_FILE")" = "add demo/a.b" ]
}

@test "a deleted object leaves the cache and queues its owner" {
  jq -nc --argjson o "$(child web site-a 5)" '{type: "ADDED", object: $o}, {type: "DELETED", object: $o}' |
    frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records"
  [ ! -e "$INF_DIR/demo/web.json" ]
  [ "$(cat "$QUEUE_FILE")" = $'add demo/site-a\nadd demo/site-a' ]
}

@test "a child taken from one site by another queues both" {
  jq -nc --argjson a "$(child web site-a 5)" --argjson b "$(child web site-b 6)" \
    '{type: "ADDED", object: $a}, {type: "MODIFIED", object: $b}' | frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records"
  [ "$(cat "$QUEUE_FILE")" = $'add demo/site-a\nadd demo/site-b\nadd demo/site-a' ]
}

@test "an ERROR event 410 asks for a relist; another ERROR is an error" {
  jq -nc '{type: "ERROR", object: {kind: "Status", code: 410, message: "too old resource version: 1 (5)"}}' |
    frame_watch >"$BATS_TEST_TMPDIR/records"
  run informer_consume <"$BATS_TEST_TMPDIR/records"
  [ "$status" -eq 2 ]
  jq -nc '{type: "ERROR", object: {kind: "Status", code: 500, message: "boom\nagain"}}' |
    frame_watch >"$BATS_TEST_TMPDIR/records"
  informer_consume <"$BATS_TEST_TMPDIR/records" || status=$?
  [ "$status" -eq 1 ]
  [ "$INF_MESSAGE" = "500 boom again" ]
}

@test "a list reads every page; a relist removes what is gone and queues its site" {
  start_fake_proxy
  jq -nc --argjson a "$(child a site-a 6)" '{metadata: {resourceVersion: "20", continue: "page2"}, items: [$a]}' \
    >"$FAKE/page1.json"
  jq -nc --argjson b "$(child b site-b 7)" '{metadata: {resourceVersion: "20"}, items: [$b]}' >"$FAKE/page2.json"
  jq -nc --argjson b "$(child b site-b 8)" '{metadata: {resourceVersion: "30"}, items: [$b]}' >"$FAKE/later.json"
  route GET continue=page2 200 "$FAKE/page2.json"
  route GET /deployments 200 "$FAKE/page1.json"
  api_collection_path deployments demo
  INF_PATH=$REPLY INF_SELECTOR=$MANAGED_SELECTOR
  informer_list
  [ "$INF_RV" = 20 ]
  [ -f "$INF_DIR/demo/a.json" ] && [ -f "$INF_DIR/demo/b.json" ]
  [ "$(cat "$QUEUE_FILE")" = $'add demo/site-a\nadd demo/site-b' ]
  [ "$(sed -n 1p "$FAKE/calls")" = "GET /apis/apps/v1/namespaces/demo/deployments?limit=500&labelSelector=app.kubernetes.io%2Fmanaged-by%3Dstaticsite-controller" ]
  [ "$(sed -n 2p "$FAKE/calls")" = "GET /apis/apps/v1/namespaces/demo/deployments?limit=500&labelSelector=app.kubernetes.io%2Fmanaged-by%3Dstaticsite-controller&continue=page2" ]
  : >"$FAKE/routes"
  route GET /deployments 200 "$FAKE/later.json"
  : >"$QUEUE_FILE"
  informer_list
  stop_fake_proxy
  [ "$INF_RV" = 30 ]
  [ ! -e "$INF_DIR/demo/a.json" ]
  [ "$(jq -r .metadata.resourceVersion "$INF_DIR/demo/b.json")" = 8 ]
  [ "$(sort "$QUEUE_FILE" | tr '\n' ' ')" = "add demo/site-a add demo/site-b " ]
}

@test "a list the API server refuses is an error with its message" {
  start_fake_proxy
  jq -nc '{kind: "Status", code: 403, message: "deployments.apps is forbidden"}' >"$FAKE/403.json"
  route GET /deployments 403 "$FAKE/403.json"
  api_collection_path deployments demo
  INF_PATH=$REPLY INF_SELECTOR=""
  informer_list || status=$?
  stop_fake_proxy
  [ "$status" -eq 1 ]
  [ "$INF_MESSAGE" = "deployments.apps is forbidden (HTTP )" ] || [ "$INF_MESSAGE" = "deployments.apps is forbidden (HTTP 403)" ]
}

@test "a refused watch (a Status instead of events) is an ERROR record: 410 asks for a relist" {
  jq -nc '{kind: "Status", apiVersion: "v1", status: "Failure", code: 410, message: "too old resource version"}' |
    frame_watch >"$BATS_TEST_TMPDIR/records"
  [ "$(cat "$BATS_TEST_TMPDIR/records")" = "ERROR 410 too old resource version" ]
  run informer_consume <"$BATS_TEST_TMPDIR/records"
  [ "$status" -eq 2 ]
}

@test "the collection paths: one namespace or all" {
  api_collection_path staticsites demo
  [ "$REPLY" = /apis/sites.example.com/v1alpha1/namespaces/demo/staticsites ]
  api_collection_path deployments demo
  [ "$REPLY" = /apis/apps/v1/namespaces/demo/deployments ]
  api_collection_path services ""
  [ "$REPLY" = /api/v1/services ]
}
