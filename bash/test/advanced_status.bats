#!/usr/bin/env bats
# The site's status (bash/advanced/status.jq, status.sh): Ready's reasons and messages, the transition time.
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  site hello >"$BATS_TEST_TMPDIR/site.json"
  NOW=2030-01-01T00:00:00Z
}

condition() {
  site_status "$BATS_TEST_TMPDIR/site.json" "$1" "$NOW" | jq -r '.conditions[0] | "\(.status) \(.reason) \(.message)"'
}

@test "a rolled-out Deployment makes the site Available, R/N replicas ready" {
  deployment_status 4 4 2 2 2 >"$BATS_TEST_TMPDIR/d.json"
  [ "$(condition "$BATS_TEST_TMPDIR/d.json")" = "True Available 2/2 replicas ready" ]
  run site_status "$BATS_TEST_TMPDIR/site.json" "$BATS_TEST_TMPDIR/d.json" "$NOW"
  [ "$output" = '{"observedGeneration":3,"readyReplicas":2,"url":"http://hello.demo.svc.cluster.local","conditions":[{"type":"Ready","status":"True","reason":"Available","message":"2/2 replicas ready","observedGeneration":3,"lastTransitionTime":"2030-01-01T00:00:00Z"}]}' ]
}

@test "a Deployment not rolled out yet is Progressing" {
  deployment_status 5 4 2 2 2 >"$BATS_TEST_TMPDIR/d.json" # a newer spec not yet observed
  [ "$(condition "$BATS_TEST_TMPDIR/d.json")" = "False Progressing 2/2 replicas ready" ]
  deployment_status 4 4 3 1 2 >"$BATS_TEST_TMPDIR/d.json" # rolling: an old pod left
  [ "$(condition "$BATS_TEST_TMPDIR/d.json")" = "False Progressing 2/2 replicas ready" ]
  deployment_status 4 4 2 2 1 >"$BATS_TEST_TMPDIR/d.json"
  [ "$(condition "$BATS_TEST_TMPDIR/d.json")" = "False Progressing 1/2 replicas ready" ]
}

@test "no Deployment: Progressing with 0 ready" {
  : >"$BATS_TEST_TMPDIR/none.json"
  [ "$(condition "$BATS_TEST_TMPDIR/none.json")" = "False Progressing 0/2 replicas ready" ]
  [ "$(site_status "$BATS_TEST_TMPDIR/site.json" "$BATS_TEST_TMPDIR/none.json" "$NOW" | jq .readyReplicas)" = 0 ]
}

@test "replicas 0: a Deployment without replica counts is Available 0/0" {
  site hello '.spec.replicas = 0' >"$BATS_TEST_TMPDIR/site.json"
  jq -nc '{metadata: {generation: 1}, status: {observedGeneration: 1}}' >"$BATS_TEST_TMPDIR/d.json"
  [ "$(condition "$BATS_TEST_TMPDIR/d.json")" = "True Available 0/0 replicas ready" ]
}

@test "lastTransitionTime stays while the status stays, even when the reason and message change" {
  site hello '.status.conditions = [{type: "Ready", status: "False", reason: "Progressing",
    message: "0/2 replicas ready", lastTransitionTime: "2020-01-01T00:00:00Z"}]' >"$BATS_TEST_TMPDIR/site.json"
  jq -nc '{metadata: {name: "hello", namespace: "demo", uid: "other"}, kind: "ConfigMap"}' >/dev/null
  deployment_status 4 4 2 2 1 >"$BATS_TEST_TMPDIR/d.json"
  [ "$(site_status "$BATS_TEST_TMPDIR/site.json" "$BATS_TEST_TMPDIR/d.json" "$NOW" |
    jq -r '.conditions[0] | "\(.message) \(.lastTransitionTime)"')" = "1/2 replicas ready 2020-01-01T00:00:00Z" ]
}

@test "lastTransitionTime changes when the status changes" {
  site hello '.status.conditions = [{type: "Ready", status: "False", reason: "Progressing",
    message: "1/2 replicas ready", lastTransitionTime: "2020-01-01T00:00:00Z"}]' >"$BATS_TEST_TMPDIR/site.json"
  deployment_status 4 4 2 2 2 >"$BATS_TEST_TMPDIR/d.json"
  [ "$(site_status "$BATS_TEST_TMPDIR/site.json" "$BATS_TEST_TMPDIR/d.json" "$NOW" |
    jq -r '.conditions[0].lastTransitionTime')" = "$NOW" ]
}

@test "transition_time: first appearance, same status, new status" {
  run advanced_jq -nc 'include "status";
    [transition_time(null; "True"; "NOW"),
     transition_time({status: "True", lastTransitionTime: "OLD"}; "True"; "NOW"),
     transition_time({status: "False", lastTransitionTime: "OLD"}; "True"; "NOW")]'
  [ "$output" = '["NOW","OLD","NOW"]' ]
}

@test "a site name must be a DNS-1035 label to be a Service name" {
  local long
  long=$(printf 'a%.0s' {1..64})
  run advanced_jq -nc --arg long "$long" 'include "status";
    ["hello", "a-1", "a", "1site", "a.b", "Hello", "a-", $long, $long[1:]] | map(valid_service_name)'
  [ "$output" = '[true,true,true,false,false,false,false,false,true]' ]
}

@test "the InvalidSpec and ChildConflict messages are SPEC.md's" {
  run advanced_jq -nr 'include "status";
    ({metadata: {name: "1st-site"}} | invalid_name_message),
    ({kind: "ConfigMap", metadata: {name: "taken-content"}} | conflict_message)'
  [ "${lines[0]}" = "name 1st-site cannot be a Service name: it must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters)" ]
  [ "${lines[1]}" = "ConfigMap taken-content exists and is not controlled by this StaticSite" ]
}
