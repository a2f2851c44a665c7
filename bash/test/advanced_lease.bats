#!/usr/bin/env bats
# Leader election (bash/advanced/leader.sh, keep_lease and kill_descendants in manager.sh), with a fake API
# proxy (stubs/fake-api-proxy): every request of an attempt is bounded by what is left of the renew deadline,
# a Lease not renewed by the deadline is lost (shutdown 1), and the shutdown after a loss leaves no process
# behind.
# shellcheck source-path=SCRIPTDIR disable=SC2030,SC2031,SC2034,SC2329 # globals the sourced functions read; stubs they call

setup() {
  load advanced_helper
  setup_advanced
  start_fake_proxy
  IDENTITY=me LEADER_ELECTION_NAMESPACE=staticsite-system LEADER_ELECTION_ID=staticsite-controller
  LEASE_DURATION=6 RENEW_DEADLINE=4 LEADER_ELECT=true
  RENEW_DEADLINE_US=4000000 RETRY_PERIOD_US=1000000
}

teardown() {
  stop_fake_proxy
}

# answer METHOD MODE: how the fake proxy answers METHOD (GET, PUT, POST) on the Lease: hang, conflict,
# notfound, or a file of JSON to answer with.
answer() {
  case $2 in
    hang) route "$1" /leases hang ;;
    conflict) route "$1" /leases 409 "$(status_file 409 Conflict)" ;;
    notfound) route "$1" /leases 404 "$(status_file 404 NotFound)" ;;
    *) route "$1" /leases 200 "$2" ;;
  esac
}

# status_file CODE REASON: a Status object the API server answers with, in a file; its path on stdout.
status_file() {
  jq -nc --argjson code "$1" --arg reason "$2" '{kind: "Status", status: "Failure", reason: $reason, code: $code,
    message: "the Lease: \($reason)"}' >"$FAKE/status.$1"
  printf '%s\n' "$FAKE/status.$1"
}

# lease_json HOLDER RESOURCE_VERSION: a Lease as the API server returns it.
lease_json() {
  jq -nc --arg holder "$1" --arg version "$2" '{apiVersion: "coordination.k8s.io/v1", kind: "Lease",
    metadata: {name: "staticsite-controller", namespace: "staticsite-system", resourceVersion: $version},
    spec: {holderIdentity: $holder, leaseDurationSeconds: 6, renewTime: "2026-01-01T00:00:00.000000Z",
           acquireTime: "2026-01-01T00:00:00.000000Z", leaseTransitions: 0}}'
}

# deadline_in MICROSECONDS: the attempt's budget ends that far from now.
deadline_in() {
  now_us
  LEASE_DEADLINE_US=$((REPLY + $1))
}

@test "a renew is one PUT with the resourceVersion this process wrote" {
  lease_json me 8 >"$FAKE/written.json"
  answer PUT "$FAKE/written.json"
  LEASE_RESOURCE_VERSION=7
  deadline_in 4000000
  lease_try_acquire_or_renew
  [ "$(wc -l <"$FAKE/calls")" -eq 1 ]
  [[ $(<"$FAKE/calls") == "PUT /apis/coordination.k8s.io/v1/namespaces/staticsite-system/leases/staticsite-controller" ]]
  [ "$(jq -r .metadata.resourceVersion "$FAKE/body.1")" = 7 ]
  [ "$LEASE_RESOURCE_VERSION" = 8 ]
}

@test "a hung request is ended when the budget runs out, and the attempt fails" {
  answer PUT hang
  LEASE_RESOURCE_VERSION=7
  deadline_in 500000
  lease_try_acquire_or_renew || status=$?
  [ "$status" -ne 0 ]
  [ "$API_STATUS" = 000 ] # curl gave up on the PUT: no answer
  [ "$LEASE_ERROR" = "renew deadline passed" ] # and nothing was left for a GET
}

@test "the budget spans the whole attempt: no GET after a PUT that used it up" {
  answer PUT hang
  answer GET "$FAKE/other.json"
  lease_json other 9 >"$FAKE/other.json"
  LEASE_RESOURCE_VERSION=7
  deadline_in 500000
  run lease_try_acquire_or_renew
  [ "$status" -ne 0 ]
  [ "$(wc -l <"$FAKE/calls")" -eq 1 ] # the PUT only
  [[ $(<"$FAKE/calls") == PUT* ]]
}

@test "with nothing left of the budget no request starts" {
  answer GET "$FAKE/other.json"
  deadline_in -1
  lease_try_acquire_or_renew || status=$?
  [ "$status" -ne 0 ]
  [ ! -e "$FAKE/calls" ]
  [ "$LEASE_ERROR" = "renew deadline passed" ]
}

@test "a conflict on the renew reads the Lease; held by another and fresh: not ours" {
  answer PUT conflict
  answer GET "$FAKE/other.json"
  lease_json other 9 >"$FAKE/other.json"
  LEASE_RESOURCE_VERSION=7
  deadline_in 4000000
  run lease_try_acquire_or_renew
  [ "$status" -ne 0 ]
  [ "$(wc -l <"$FAKE/calls")" -eq 2 ]
  [[ $(sed -n 2p "$FAKE/calls") == GET* ]]
}

@test "a holder identity is data: spaces, newlines and our own name inside it never make the Lease ours" {
  answer PUT conflict
  answer GET "$FAKE/other.json"
  # shellcheck disable=SC2016 # the $(...) is meant literally: a name, never run
  for holder in 'me 9' $'me\nme' 'x $(touch pwned) y' '- -' 'me other' ' me'; do
    lease_json "$holder" 9 >"$FAKE/other.json"
    rm -f "$FAKE/calls" "$FAKE"/body.*
    LEASE_RESOURCE_VERSION=7 LEASE_OBSERVED="" LEASE_OBSERVED_AT=0
    deadline_in 4000000
    run lease_try_acquire_or_renew
    [ "$status" -ne 0 ] || { echo "took a fresh Lease held by: $holder"; return 1; }
    [ "$(wc -l <"$FAKE/calls")" -eq 2 ] # the PUT and the GET, no write after reading
  done
  [ ! -e pwned ]
}

@test "keep_lease: a failed renewal before the deadline is retried, at the deadline at the latest" {
  shutdown() { echo "shutdown $1"; }
  answer PUT conflict
  answer GET conflict
  LEASE_RESOURCE_VERSION=7
  now_us
  LEASE_RENEWED_AT=$((REPLY - 3500000)) # 0.5 s of the 4 s renew deadline left
  LEASE_NEXT_RENEWAL=0
  keep_lease
  [ "$LEASE_NEXT_RENEWAL" -eq $((LEASE_RENEWED_AT + RENEW_DEADLINE_US)) ] # not a whole retry period on
}

@test "keep_lease: not renewed by the deadline, the Lease is lost: shutdown 1, no request" {
  shutdown() {
    echo "shutdown $1"
    exit "$1"
  }
  answer PUT hang
  LEASE_RESOURCE_VERSION=7
  now_us
  LEASE_RENEWED_AT=$((REPLY - RENEW_DEADLINE_US))
  LEASE_NEXT_RENEWAL=0
  run keep_lease
  [ "$status" -eq 1 ]
  [[ $output == *"could not renew the Lease within 4s"* ]]
  [[ ${lines[-1]} == "shutdown 1" ]]
  [ ! -e "$FAKE/calls" ]
}

@test "keep_lease: a renewal that succeeds restarts the deadline" {
  lease_json me 8 >"$FAKE/written.json"
  answer PUT "$FAKE/written.json"
  LEASE_RESOURCE_VERSION=7
  now_us
  local before=$REPLY
  LEASE_RENEWED_AT=$((before - 3000000))
  LEASE_NEXT_RENEWAL=0
  keep_lease
  ((LEASE_RENEWED_AT >= before))
  [ "$LEASE_NEXT_RENEWAL" -eq $((LEASE_RENEWED_AT + RETRY_PERIOD_US)) ]
}

@test "kill_descendants leaves no orphan: a reconcile below a worker dies with it" {
  # In a process of its own: kill_descendants kills everything below $$.
  run bash -c '
    source "$1/util.sh"; source "$1/manager.sh"
    worker() { (sleep 300; echo orphan wrote) & echo "$!" >"$2/reconcile.pid"; wait; }
    worker "$@" &
    echo "$!" >"$2/worker.pid"
    until [[ -s $2/reconcile.pid ]]; do sleep 0.05; done
    kill_descendants
    for pid in $(<"$2/worker.pid") $(<"$2/reconcile.pid"); do
      state=$(awk "{print \$3}" "/proc/$pid/stat" 2>/dev/null) # a zombie (Z) is dead, not yet reaped
      if [[ -n $state && $state != Z ]]; then echo "left: $pid ($state)"; fi
    done
    descendants $$
    echo "descendants: ${#REPLY_PIDS[@]}"
  ' _ "$ADVANCED_DIR" "$BATS_TEST_TMPDIR"
  [ "$status" -eq 0 ]
  [[ $output != *"left:"* ]]
  [[ $output == *"descendants: 0"* ]]
}

@test "the graceful drain keeps renewing the Lease while it waits for the workers" {
  lease_json me 8 >"$FAKE/written.json"
  answer PUT "$FAKE/written.json"
  LEASE_RESOURCE_VERSION=7
  now_us
  LEASE_RENEWED_AT=$REPLY
  LEASE_NEXT_RENEWAL=0 # a renewal is due
  mkfifo "$RUN/pause.fifo"
  exec {PAUSE_FD}<>"$RUN/pause.fifo"
  sleep 0.5 & # a worker finishing its reconcile
  run stop_pids 25 "$!"
  [[ $(<"$FAKE/calls") == PUT* ]]
}

@test "release: a process that does not hold the Lease writes nothing and says nothing of a release" {
  LEASE_RESOURCE_VERSION="" # a standby, or a leader whose last renewal failed
  LEASE_RENEWED_AT=0
  run release_lease
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ ! -s "$FAKE/calls" ]
}

@test "release: the holder writes an empty holder with its resourceVersion and says so" {
  lease_json "" 9 >"$FAKE/released.json"
  answer PUT "$FAKE/released.json"
  LEASE_RESOURCE_VERSION=8
  now_us
  LEASE_RENEWED_AT=$REPLY
  run release_lease
  [[ $output == *"released the Lease"* ]]
  [ "$(wc -l <"$FAKE/calls")" -eq 1 ]
  [ "$(jq -r '.spec.holderIdentity // "" ' "$FAKE/body.1")" = "" ]
  [ "$(jq -r .metadata.resourceVersion "$FAKE/body.1")" = 8 ]
}
