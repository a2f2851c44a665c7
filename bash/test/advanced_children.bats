#!/usr/bin/env bats
# The children of a site (bash/advanced/children.jq, children.sh): the content hash, the manifests, and the
# compare-before-write rule.
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  site hello >"$BATS_TEST_TMPDIR/site.json"
}

@test "the content hash is SHA-256 of name NUL body NUL ... in byte order of the names" {
  # Expected values computed with Python's hashlib over the same bytes.
  site x '.spec.content = {"index.html": "<h1>hi</h1>", "a.html": "A", "Z.txt": "zé"}' >"$BATS_TEST_TMPDIR/s.json"
  content_hash "$BATS_TEST_TMPDIR/s.json"
  [ "$REPLY" = fe2ef6ac60851bb0ab4272ff2f2e9d5d9b51f6f087fd235cb0bb7662d604173f ]
  site x '.spec.content = {"index.html": "<h1>hello</h1>"}' >"$BATS_TEST_TMPDIR/s.json"
  content_hash "$BATS_TEST_TMPDIR/s.json"
  [ "$REPLY" = eb513b048a93ec67b205bd790ce62d1122e88618146e3d6dfa6daef44f47eb2b ]
}

@test "the hash input keeps its NUL bytes (jq -j)" {
  run bash -c "jq -j -L '$ADVANCED_DIR' 'include \"children\"; content_hash_input' '$BATS_TEST_TMPDIR/site.json' | od -An -tx1 | tr -d ' \\n'"
  # index.html NUL <h1>hi</h1> NUL
  [ "$output" = "696e6465782e68746d6c003c68313e68693c2f68313e00" ]
}

@test "a changed body changes the hash; the order of the keys in the JSON does not" {
  content_hash "$BATS_TEST_TMPDIR/site.json"
  local first=$REPLY
  site hello '.spec.content["index.html"] = "<h1>v2</h1>"' >"$BATS_TEST_TMPDIR/s.json"
  content_hash "$BATS_TEST_TMPDIR/s.json"
  [ "$REPLY" != "$first" ]
  site hello '.spec.content = {"b": "2", "a": "1"}' >"$BATS_TEST_TMPDIR/s1.json"
  site hello '.spec.content = {"a": "1", "b": "2"}' >"$BATS_TEST_TMPDIR/s2.json"
  content_hash "$BATS_TEST_TMPDIR/s1.json"
  first=$REPLY
  content_hash "$BATS_TEST_TMPDIR/s2.json"
  [ "$REPLY" = "$first" ]
}

@test "the three children are exactly SPEC.md's" {
  run render_children "$BATS_TEST_TMPDIR/site.json" HASH
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  local labels='{"app.kubernetes.io/name":"staticsite","app.kubernetes.io/instance":"hello","app.kubernetes.io/managed-by":"staticsite-controller"}'
  local owner='[{"apiVersion":"sites.example.com/v1alpha1","kind":"StaticSite","name":"hello","uid":"uid-1","controller":true,"blockOwnerDeletion":true}]'
  local selector='{"app.kubernetes.io/name":"staticsite","app.kubernetes.io/instance":"hello"}'
  [ "${lines[0]}" = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hello-content","namespace":"demo","labels":'"$labels"',"ownerReferences":'"$owner"'},"data":{"index.html":"<h1>hi</h1>"}}' ]
  [ "${lines[1]}" = '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"hello","namespace":"demo","labels":'"$labels"',"ownerReferences":'"$owner"'},"spec":{"replicas":2,"selector":{"matchLabels":'"$selector"'},"template":{"metadata":{"labels":'"$labels"',"annotations":{"sites.example.com/content-hash":"HASH"}},"spec":{"containers":[{"name":"web","image":"nginx:1.27.3","ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],"volumeMounts":[{"name":"content","mountPath":"/usr/share/nginx/html","readOnly":true}]}],"volumes":[{"name":"content","configMap":{"name":"hello-content"}}]}}}}' ]
  [ "${lines[2]}" = '{"apiVersion":"v1","kind":"Service","metadata":{"name":"hello","namespace":"demo","labels":'"$labels"',"ownerReferences":'"$owner"'},"spec":{"type":"ClusterIP","selector":'"$selector"',"ports":[{"name":"http","port":80,"targetPort":80,"protocol":"TCP"}]}}' ]
}

@test "replicas 0 is kept (not replaced by the default)" {
  site hello '.spec.replicas = 0' >"$BATS_TEST_TMPDIR/s.json"
  run render_children "$BATS_TEST_TMPDIR/s.json" HASH
  [ "$(jq -c '.spec.replicas' <<<"${lines[1]}")" = 0 ]
}

# actual_after FILTER: the desired Deployment as the API server would return it, changed by FILTER.
actual_after() {
  render_children "$BATS_TEST_TMPDIR/site.json" HASH | sed -n 2p |
    jq -c 'del(.apiVersion, .kind) | .metadata.uid = "d-1" | .metadata.resourceVersion = "5"
           | .spec.template.spec.containers[0].imagePullPolicy = "IfNotPresent"
           | .spec.template.spec.volumes[0].configMap.defaultMode = 420 | .spec.strategy = {type: "RollingUpdate"}
           | .status = {replicas: 2}' | jq -c "$1" >"$BATS_TEST_TMPDIR/actual.json"
}

@test "an object with only the server's additions is up to date (no write)" {
  actual_after .
  desired=$(render_children "$BATS_TEST_TMPDIR/site.json" HASH | sed -n 2p)
  child_up_to_date "$BATS_TEST_TMPDIR/actual.json" "$desired"
}

@test "a drifted field the controller sets is not up to date" {
  desired=$(render_children "$BATS_TEST_TMPDIR/site.json" HASH | sed -n 2p)
  local drift
  for drift in '.spec.replicas = 5' '.spec.template.spec.containers[0].image = "busybox:1"' \
    '.spec.template.metadata.annotations["sites.example.com/content-hash"] = "OLD"' \
    '.metadata.labels["app.kubernetes.io/instance"] = "x"' '.metadata.ownerReferences = []' \
    '.spec.template.spec.containers[0].ports = []'; do
    actual_after "$drift"
    run child_up_to_date "$BATS_TEST_TMPDIR/actual.json" "$desired"
    [ "$status" -ne 0 ] || { echo "not seen as drift: $drift"; return 1; }
  done
}

@test "items others add to a list the controller sets are not drift (keyed lists to server-side apply)" {
  desired=$(render_children "$BATS_TEST_TMPDIR/site.json" HASH | sed -n 2p)
  actual_after '.spec.template.spec.containers = [{name: "sidecar", image: "x"}] + .spec.template.spec.containers
    | .metadata.ownerReferences += [{apiVersion: "v1", kind: "Other", name: "x", uid: "y"}]'
  child_up_to_date "$BATS_TEST_TMPDIR/actual.json" "$desired"
}

@test "a ConfigMap's data must equal the content: an extra or a changed file is drift" {
  desired=$(render_children "$BATS_TEST_TMPDIR/site.json" HASH | sed -n 1p)
  jq -c '. + {metadata: (.metadata + {uid: "c"})}' <<<"$desired" >"$BATS_TEST_TMPDIR/cm.json"
  child_up_to_date "$BATS_TEST_TMPDIR/cm.json" "$desired"
  jq -c '.data["old.html"] = "gone"' <<<"$desired" >"$BATS_TEST_TMPDIR/cm.json"
  run child_up_to_date "$BATS_TEST_TMPDIR/cm.json" "$desired"
  [ "$status" -ne 0 ]
  jq -c '.data["index.html"] = "defaced"' <<<"$desired" >"$BATS_TEST_TMPDIR/cm.json"
  run child_up_to_date "$BATS_TEST_TMPDIR/cm.json" "$desired"
  [ "$status" -ne 0 ]
}

@test "controlled_by needs a controller reference with the site's uid" {
  run advanced_jq -n 'include "children";
    [({metadata: {ownerReferences: [{uid: "u", controller: true}]}} | controlled_by("u")),
     ({metadata: {ownerReferences: [{uid: "u"}]}} | controlled_by("u")),
     ({metadata: {ownerReferences: [{uid: "v", controller: true}]}} | controlled_by("u")),
     ({metadata: {}} | controlled_by("u"))] | map(tostring) | join(" ")'
  [ "$output" = '"true false false false"' ]
}
