#!/usr/bin/env bats
# watch-pods' pieces (lib/watch.sh, the watch definitions of lib/pods.jq): event lines, output, the re-list diff.

setup() {
  load test_helper
  load_libs
  OUTPUT=json
}

S=$'\x1f'

# entry NAMESPACE NAME PHASE RESOURCEVERSION: one watch_entry line, as list_pods writes them.
entry() {
  printf '"%s"%s"%s"%s"%s"%s"%s"\n' "$1" "$S" "$2" "$S" "$3" "$S" "$4"
}

# remember NAMESPACE NAME PHASE RESOURCEVERSION: pretend the watcher printed this pod.
remember() {
  PRINTED["\"$1\"$S\"$2\""]="\"$3\"$S\"$4\""
}

# ----- from the API's JSON to lines -------------------------------------------------

@test "watch_entry: encoded namespace, name, phase, resourceVersion" {
  run pods_jq '.items[] | watch_entry' "$FIXTURES/pods-page.json"
  [ "${lines[0]}" = "$(entry demo web-0 Running 101)" ]
  [ "${lines[1]}" = "$(entry demo fresh "" 102)" ]
}

@test "event_line: pod events, bookmarks and errors" {
  run pods_jq 'event_line' <<'EOF'
{"type":"ADDED","object":{"kind":"Pod","metadata":{"namespace":"ns","name":"p","resourceVersion":"7"},"status":{"phase":"Pending"}}}
{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}}
{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5371)","reason":"Expired","code":410}}
EOF
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "ADDED$S\"ns\"$S\"p\"$S\"Pending\"$S\"7\"${S}0" ]
  [ "${lines[1]}" = "BOOKMARK$S\"\"$S\"\"$S\"\"$S\"9\"${S}0" ]
  [ "${lines[2]}" = "ERROR$S\"\"$S\"\"$S\"\"$S\"\"${S}410" ]
}

@test "event_line: no value can break the line or the fields" {
  run pods_jq 'event_line' <<<'{"type":"MODIFIED","object":{"metadata":{"namespace":"ns","name":"p","resourceVersion":"8"},"status":{"phase":"odd\n\u001f\"phase"}}}'
  [ "${#lines[@]}" -eq 1 ]
  IFS=$S read -r _ _ _ phase resource_version _ <<<"$output"
  [ "$phase" = '"odd\n\u001f\"phase"' ]
  [ "$resource_version" = '"8"' ]
}

# ----- printing ---------------------------------------------------------------------

@test "print_event -o json: the contract's keys, in order" {
  run print_event MODIFIED '"ns"' '"p"' '"Running"' '"42"'
  [ "$output" = '{"type":"MODIFIED","namespace":"ns","name":"p","phase":"Running","resourceVersion":"42"}' ]
  run print_event ADDED '"ns"' '"p"' '"odd \"phase\""' '"1"'
  run jq -r .phase <<<"$output" # still valid JSON
  [ "$output" = 'odd "phase"' ]
}

@test "print_event -o table: %-9s %-20s %-40s %s, a longer cell pushes the rest right" {
  # shellcheck disable=SC2034 # read by print_event
  OUTPUT=table
  run print_event_header
  [ "$output" = "EVENT     NAMESPACE            NAME                                     PHASE" ]
  run print_event DELETED '"ns"' '"p"' '"Running"' '"42"'
  [ "$output" = "DELETED   ns                   p                                        Running" ]
  run print_event ADDED '"a-namespace-longer-than-20"' '"p"' '""' '"1"'
  [ "$output" = "ADDED     a-namespace-longer-than-20 p                                        " ]
}

@test "print_event_header prints nothing for -o json" {
  run print_event_header
  [ -z "$output" ]
}

@test "emit remembers what it printed and forgets deleted pods" {
  emit ADDED '"ns"' '"p"' '"Pending"' '"1"' >/dev/null
  [ "${PRINTED["\"ns\"$S\"p\""]}" = "\"Pending\"$S\"1\"" ]
  emit MODIFIED '"ns"' '"p"' '"Running"' '"2"' >/dev/null
  [ "${PRINTED["\"ns\"$S\"p\""]}" = "\"Running\"$S\"2\"" ]
  emit DELETED '"ns"' '"p"' '"Running"' '"3"' >/dev/null
  [ "${#PRINTED[@]}" -eq 0 ]
}

# ----- the re-list diff -------------------------------------------------------------

@test "print_difference after the first list: every pod ADDED, in list order" {
  { entry a x Running 5; entry b y Pending 6; } >"$BATS_TEST_TMPDIR/listed"
  run print_difference "$BATS_TEST_TMPDIR/listed"
  [ "${lines[0]}" = '{"type":"ADDED","namespace":"a","name":"x","phase":"Running","resourceVersion":"5"}' ]
  [ "${lines[1]}" = '{"type":"ADDED","namespace":"b","name":"y","phase":"Pending","resourceVersion":"6"}' ]
  [ "${#lines[@]}" -eq 2 ]
}

@test "print_difference after a 410: ADDED and MODIFIED in list order, then DELETED sorted, with what was printed" {
  remember ns same Running 10
  remember ns changed Pending 11
  remember ns gone-b Running 12
  remember ns gone-a Succeeded 13
  remember ns-2 gone Pending 14
  {
    entry ns changed Running 20
    entry ns new Pending 21
    entry ns same Running 10
  } >"$BATS_TEST_TMPDIR/listed"

  print_difference "$BATS_TEST_TMPDIR/listed" >"$BATS_TEST_TMPDIR/out"
  run cat "$BATS_TEST_TMPDIR/out"
  [ "${lines[0]}" = '{"type":"MODIFIED","namespace":"ns","name":"changed","phase":"Running","resourceVersion":"20"}' ]
  [ "${lines[1]}" = '{"type":"ADDED","namespace":"ns","name":"new","phase":"Pending","resourceVersion":"21"}' ]
  [ "${lines[2]}" = '{"type":"DELETED","namespace":"ns","name":"gone-a","phase":"Succeeded","resourceVersion":"13"}' ]
  [ "${lines[3]}" = '{"type":"DELETED","namespace":"ns","name":"gone-b","phase":"Running","resourceVersion":"12"}' ]
  [ "${lines[4]}" = '{"type":"DELETED","namespace":"ns-2","name":"gone","phase":"Pending","resourceVersion":"14"}' ]
  [ "${#lines[@]}" -eq 5 ]

  # The state now matches the list, so listing the same again prints nothing.
  [ "${#PRINTED[@]}" -eq 3 ]
  run print_difference "$BATS_TEST_TMPDIR/listed"
  [ -z "$output" ]
}
