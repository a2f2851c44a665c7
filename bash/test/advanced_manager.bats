#!/usr/bin/env bats
# The command line (bash/advanced/manager.sh): SPEC.md's flags and defaults; and the HTTP handler.
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
}

@test "the defaults are SPEC.md's" {
  options_parse
  [ "$NAMESPACE" = "" ] && [ "$WORKERS" = 4 ] && [ "$LEADER_ELECT" = false ]
  [ "$LEADER_ELECTION_NAMESPACE" = staticsite-system ] && [ "$LEADER_ELECTION_ID" = staticsite-controller ]
  [ "$LEASE_DURATION_US" = 15000000 ] && [ "$RENEW_DEADLINE_US" = 10000000 ] && [ "$RETRY_PERIOD_US" = 2000000 ]
  [ "$HEALTH_ADDR" = 127.0.0.1:8081 ] && [ "$METRICS_ADDR" = 127.0.0.1:8080 ]
  [[ $IDENTITY == *_$$ ]]
}

@test "both --flag value and --flag=value" {
  options_parse --namespace ns1 --workers=2 --leader-elect --identity=me --lease-duration=6 --renew-deadline 4 \
    --retry-period=0.5 --health-addr=127.0.0.1:1 --metrics-addr 127.0.0.1:2 --kubeconfig=/k --context c \
    --leader-election-namespace=le --leader-election-id=id
  [ "$NAMESPACE" = ns1 ] && [ "$WORKERS" = 2 ] && [ "$LEADER_ELECT" = true ] && [ "$IDENTITY" = me ]
  [ "$LEASE_DURATION_US" = 6000000 ] && [ "$RENEW_DEADLINE_US" = 4000000 ] && [ "$RETRY_PERIOD_US" = 500000 ]
  [ "$HEALTH_ADDR" = 127.0.0.1:1 ] && [ "$METRICS_ADDR" = 127.0.0.1:2 ]
  [ "$KUBECONFIG_PATH" = /k ] && [ "$CONTEXT" = c ]
  [ "$LEADER_ELECTION_NAMESPACE" = le ] && [ "$LEADER_ELECTION_ID" = id ]
}

@test "usage errors exit 2 with an error line" {
  local bad
  for bad in --nope "--workers 0" "--workers x" "--lease-duration=0" "--renew-deadline=20" \
    "--retry-period=10" "--health-addr=nowhere" "--namespace" "--leader-elect=maybe"; do
    # shellcheck disable=SC2086
    run options_parse $bad
    [ "$status" -eq 2 ] || { echo "accepted: $bad"; return 1; }
    [[ ${lines[0]} == "error: "* ]]
  done
}

@test "--help prints the usage and exits 0" {
  run options_parse --help
  [ "$status" -eq 0 ]
  [[ ${lines[0]} == "usage: staticsite-controller "* ]]
}

@test "addresses: HOST:PORT, :PORT (every interface), [v6]:PORT" {
  split_address 127.0.0.1:8080
  [ "$REPLY" = "127.0.0.1 8080" ]
  split_address :9090
  [ "$REPLY" = " 9090" ]
  split_address '[::1]:80'
  [ "$REPLY" = "::1 80" ]
  run split_address 127.0.0.1
  [ "$status" -ne 0 ]
}

@test "addresses: a host that would add socat options is refused" {
  for address in '127.0.0.1,fork:80' 'a,b:80' '[::1],x:80' 'h$(id):80' 'h o:80'; do
    run split_address "$address"
    [ "$status" -ne 0 ] || { echo "accepted: $address"; return 1; }
  done
}

# request MODE PATH: the answer of endpoints.sh (run as socat runs it) to one GET.
request() {
  printf 'GET %s HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n' "$2" |
    STATICSITE_STATE=$RUN/state bash "$ADVANCED_DIR/endpoints.sh" "$1"
}

@test "/healthz answers 200; /readyz 503 until ready, then 200; anything else 404" {
  run request health /healthz
  [[ ${lines[0]} == $'HTTP/1.1 200 OK\r' ]]
  run request health /readyz
  [[ ${lines[0]} == $'HTTP/1.1 503 Service Unavailable\r' ]]
  touch "$RUN/state/ready"
  run request health /readyz?verbose
  [[ ${lines[0]} == $'HTTP/1.1 200 OK\r' ]]
  run request health /metrics
  [[ ${lines[0]} == $'HTTP/1.1 404 Not Found\r' ]]
}

@test "/metrics serves the dispatcher's text and the leader gauge, with the byte length" {
  metrics_init
  metrics_queue_depth 3
  echo 1 >"$RUN/state/leader"
  run request metrics /metrics
  [[ ${lines[0]} == $'HTTP/1.1 200 OK\r' ]]
  [[ $output == *$'\nstaticsite_queue_depth 3\n'* ]]
  [[ $output == *$'\nstaticsite_leader 1' ]]
  local length body
  length=$(grep -a '^Content-Length:' <<<"$output" | tr -dc 0-9)
  body=${output#*$'\r\n\r\n'}
  [ "$length" -eq "$(printf '%s\n' "$body" | wc -c)" ]
}

@test "private directories of killed controllers are removed, live ones and others' kept" {
  export TMPDIR=$BATS_TEST_TMPDIR
  mkdir -p "$TMPDIR/staticsite-controller.dead" "$TMPDIR/staticsite-controller.live" "$TMPDIR/staticsite-controller.new"
  sleep 0 & # a pid that is surely gone once waited for
  local gone=$!
  wait "$gone"
  echo "$gone" >"$TMPDIR/staticsite-controller.dead/pid"
  echo "$$" >"$TMPDIR/staticsite-controller.live/pid"
  remove_stale_run_directories
  [ ! -e "$TMPDIR/staticsite-controller.dead" ]
  [ -d "$TMPDIR/staticsite-controller.live" ] && [ -d "$TMPDIR/staticsite-controller.new" ]
}

@test "descendants finds children and grandchildren (what cleanup ends)" {
  sleep 30 &
  local child=$!
  (sleep 31 & wait) &
  local subshell=$!
  sleep 0.2
  descendants "$subshell"
  local grandchildren=("${REPLY_PIDS[@]}")
  descendants "$BASHPID"
  kill -KILL "$child" "$subshell" "${grandchildren[@]}" 2>/dev/null || true
  [ "${#grandchildren[@]}" -eq 1 ]
  [[ " ${REPLY_PIDS[*]} " == *" $child "* && " ${REPLY_PIDS[*]} " == *" $subshell "* ]]
  [[ " ${REPLY_PIDS[*]} " == *" ${grandchildren[0]} "* ]]
}
