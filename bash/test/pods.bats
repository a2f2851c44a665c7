#!/usr/bin/env bats
# The jq side (lib/pods.jq through lib/pods.sh): pod records, HumanDuration, the table, API paths.

setup() {
  load test_helper
  load_libs
}

# ----- pod_record -------------------------------------------------------------------

@test "pod_record: every container, init containers in neither ready nor restarts, keys in contract order" {
  run pods_jq '.items[0] | pod_record' "$FIXTURES/pods-page.json"
  [ "$status" -eq 0 ]
  [ "$output" = '{"namespace":"demo","name":"web-0","phase":"Running","node":"kwok-node-0","ready":"2/3","restarts":3,"containers":["a","b","c"],"images":["nginx:1.27","busybox","busybox"]}' ]
}

@test "pod_record: a pod without status or node" {
  run pods_jq '.items[1] | pod_record' "$FIXTURES/pods-page.json"
  [ "$output" = '{"namespace":"demo","name":"fresh","phase":"","node":"","ready":"0/1","restarts":0,"containers":["app"],"images":["registry.invalid/app:1"]}' ]
}

@test "pod_record: a status without containerStatuses" {
  run pods_jq '.items[2] | pod_record | [.phase, .ready, .restarts] | @tsv' "$FIXTURES/pods-page.json"
  [ "$output" = $'Pending\t0/1\t0' ]
}

@test "list_entry: the record plus the creation time, and print_pods_json drops it again" {
  pods_jq '.items[] | list_entry' "$FIXTURES/pods-page.json" >"$BATS_TEST_TMPDIR/entries"
  run jq -r .created "$BATS_TEST_TMPDIR/entries"
  [ "${lines[0]}" = "2024-05-01T10:00:00Z" ]
  run print_pods_json "$BATS_TEST_TMPDIR/entries"
  [ "${#lines[@]}" -eq 3 ]
  [[ $output != *created* ]]
  [[ ${lines[0]} == '{"namespace":"demo","name":"web-0",'* ]]
}

# ----- HumanDuration ----------------------------------------------------------------

# kubectl's own examples and every boundary of k8s.io/apimachinery/pkg/util/duration.HumanDuration.
@test "human_duration matches kubectl's HumanDuration" {
  local seconds expected
  while read -r seconds expected; do
    run pods_jq "$seconds | human_duration" -n
    [ "$output" = "$expected" ] || {
      echo "human_duration($seconds) = $output, want $expected"
      return 1
    }
  done <<'EOF'
-5 <invalid>
-1 0s
0 0s
45 45s
119 119s
120 2m
200 3m20s
599 9m59s
600 10m
10799 179m
10800 3h
18120 5h2m
28799 7h59m
28800 8h
172799 47h
172800 2d
183600 2d3h
691199 7d23h
691200 8d
63071999 729d
63072000 2y
64800000 2y20d
252287999 7y364d
252288000 8y
315360000 10y
EOF
}

@test "age: now minus the creation time, <unknown> without one" {
  run pods_jq '"2024-05-01T10:00:00Z" | age(1714557645)' -n
  [ "$output" = "45s" ]
  run pods_jq 'null | age(1714557645)' -n
  [ "$output" = "<unknown>" ]
}

# ----- the table --------------------------------------------------------------------

@test "table: columns as wide as their widest cell, three spaces apart, last column unpadded" {
  run pods_jq '[["A", "BB", "C"], ["long-cell", "x", "last-cell"], ["y", "", "z"]] | table' -n
  [ "${lines[0]}" = "A           BB   C" ]
  [ "${lines[1]}" = "long-cell   x    last-cell" ]
  [ "${lines[2]}" = "y                z" ]
}

@test "pods_table: kubectl's columns, <none> for no node, the age" {
  pods_jq '.items[] | list_entry' "$FIXTURES/pods-page.json" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/entries"
  # "now" is 2024-05-01T12:00:00Z
  run pods_jq 'pods_table(1714564800; false)' --slurp "$BATS_TEST_TMPDIR/entries"
  [ "${lines[0]}" = "NAME      READY   STATUS    RESTARTS   NODE          AGE" ]
  [ "${lines[1]}" = "pending   0/1     Pending   0          <none>        30m" ]
  [ "${lines[2]}" = "fresh     0/1               0          <none>        60m" ]
  [ "${lines[3]}" = "web-0     2/3     Running   3          kwok-node-0   120m" ]
}

@test "pods_table: a NAMESPACE column first with -A" {
  pods_jq '.items[] | list_entry' "$FIXTURES/pods-page.json" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/entries"
  run print_pods_table "$BATS_TEST_TMPDIR/entries" true
  [[ ${lines[0]} == "NAMESPACE   NAME      READY   STATUS    RESTARTS   NODE          AGE" ]]
  [[ ${lines[1]} == "a           pending   0/1     Pending   0          <none>        "* ]]
  [[ ${lines[3]} == "demo        web-0     2/3     Running   3          kwok-node-0   "* ]]
}

# ----- sorting and API paths --------------------------------------------------------

@test "entries sort by namespace, then name, byte-wise: 'a' before 'a-b', 'X' before 'x'" {
  printf '%s\n' \
    '{"namespace":"a-b","name":"x"}' '{"namespace":"a","name":"y"}' '{"namespace":"a","name":"x.1"}' \
    '{"namespace":"a","name":"x"}' '{"namespace":"a","name":"X"}' >"$BATS_TEST_TMPDIR/unsorted"
  run bash -c "LC_ALL=C sort '$BATS_TEST_TMPDIR/unsorted' | jq -r '.namespace + \"/\" + .name'"
  [ "$output" = $'a/X\na/x\na/x.1\na/y\na-b/x' ]
}

@test "pods_url: one namespace or all, empty parameters left out, values URL-encoded" {
  run pods_url demo limit=500 continue= labelSelector=
  [ "$output" = "/api/v1/namespaces/demo/pods?limit=500" ]
  run pods_url "" limit=500 "continue=eyJ2Ijoi+/=" "labelSelector=app=web,tier in (a,b)"
  [ "$output" = "/api/v1/pods?limit=500&continue=eyJ2Ijoi%2B%2F%3D&labelSelector=app%3Dweb%2Ctier%20in%20(a%2Cb)" ]
}
