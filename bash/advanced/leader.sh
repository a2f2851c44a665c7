# shellcheck shell=bash
# Leader election (Python: leader.py; client-go's leaderelection): a coordination.k8s.io/v1 Lease, read and
# written with the requests of api.sh, and optimistic concurrency: every write
# carries the resourceVersion it read, so of two candidates writing at once one gets a conflict and stays a
# standby.
#
# A candidate takes the Lease when there is none, when its holder is empty (released), or when the holder
# has not renewed it for leaseDurationSeconds. That last one is judged as client-go does, with this
# process's own clock: the time since this process saw the Lease's record change, so clocks of different
# machines are never compared.
#
# Every request of an attempt is bounded by LEASE_DEADLINE_US, the time (microseconds) by which the attempt
# must be over: for the leader, its last renewal + --renew-deadline, so a hung request cannot keep it
# believing it leads after a standby may have taken over (the manager sets it before each attempt).

LEASE_RESOURCE_VERSION="" # of the Lease as this process last wrote it ("" when it does not hold it)
LEASE_ACQUIRED=""         # its acquireTime and leaseTransitions then
LEASE_TRANSITIONS=0
LEASE_OBSERVED=""         # the record last seen (encoded holder, renewTime), and when (microseconds)
LEASE_OBSERVED_AT=0
LEASE_DEADLINE_US=0       # the end of the current attempt's budget (see above)

# lease_budget: what is left of the attempt's budget, in seconds, in REPLY (each request's API_MAX_TIME: curl
# ends it there); fails, with "renew deadline passed" in LEASE_ERROR, when nothing is left of it.
lease_budget() {
  now_us
  local left=$((LEASE_DEADLINE_US - REPLY))
  if ((left <= 0)); then
    LEASE_ERROR="renew deadline passed"
    return 1
  fi
  seconds_text "$left"
}

# lease_seconds: --lease-duration as the Lease's whole seconds, in REPLY.
lease_seconds() {
  REPLY=${LEASE_DURATION%.*}
  ((REPLY >= 1)) || REPLY=1
}

# lease_object HOLDER ACQUIRE_TIME TRANSITIONS DURATION RESOURCE_VERSION: the Lease to write, in REPLY
# (ACQUIRE_TIME empty: now).
lease_object() {
  micro_time_now
  REPLY=$(jq -nc --arg name "$LEADER_ELECTION_ID" --arg namespace "$LEADER_ELECTION_NAMESPACE" \
    --arg holder "$1" --arg acquired "$2" --argjson transitions "$3" --argjson duration "$4" \
    --arg version "$5" --arg now "$REPLY" \
    '{apiVersion: "coordination.k8s.io/v1", kind: "Lease",
      metadata: ({name: $name, namespace: $namespace}
                 + if $version == "" then {} else {resourceVersion: $version} end),
      spec: {holderIdentity: $holder, leaseDurationSeconds: $duration,
             acquireTime: (if $acquired == "" then $now else $acquired end), renewTime: $now,
             leaseTransitions: $transitions}}')
}

# lease_write create|replace OBJECT: POST or PUT the Lease. On success this process holds it:
# LEASE_RESOURCE_VERSION, LEASE_ACQUIRED and LEASE_TRANSITIONS are the written ones.
lease_write() {
  local answer pattern='"resourceVersion":"([^"]*)"' file=$RUN/lease.answer
  lease_budget || return 1
  if [[ $1 == create ]]; then
    API_MAX_TIME=$REPLY api_create_lease "$LEADER_ELECTION_NAMESPACE" "$2" "$file"
  else
    API_MAX_TIME=$REPLY api_replace_lease "$LEADER_ELECTION_NAMESPACE" "$LEADER_ELECTION_ID" "$2" "$file"
  fi || { LEASE_ERROR=$API_ERROR && return 1; }
  IFS= read -r -d '' answer <"$file"
  [[ $answer =~ $pattern ]] || return 1 # a Lease has one resourceVersion: its metadata's
  LEASE_RESOURCE_VERSION=${BASH_REMATCH[1]}
  pattern='"acquireTime":"([^"]*)"'
  [[ $2 =~ $pattern ]] && LEASE_ACQUIRED=${BASH_REMATCH[1]}
  pattern='"leaseTransitions":([0-9]+)'
  [[ $2 =~ $pattern ]] && LEASE_TRANSITIONS=${BASH_REMATCH[1]}
  return 0
}

# lease_try_acquire_or_renew: one attempt to hold the Lease. Returns 0 when this process holds it now.
lease_try_acquire_or_renew() {
  # exercise: leader-election begin
  local record whose holder version renewed acquired transitions duration now
  lease_seconds
  local seconds=$REPLY
  # The holder renews with the resourceVersion it wrote last: one request, no read.
  if [[ -n $LEASE_RESOURCE_VERSION ]]; then
    lease_object "$IDENTITY" "$LEASE_ACQUIRED" "$LEASE_TRANSITIONS" "$seconds" "$LEASE_RESOURCE_VERSION"
    lease_write replace "$REPLY" && return 0
    LEASE_RESOURCE_VERSION=""
  fi
  lease_budget || return 1
  if ! API_MAX_TIME=$REPLY api_get_lease "$LEADER_ELECTION_NAMESPACE" "$LEADER_ELECTION_ID" "$RUN/lease.answer"
  then
    LEASE_ERROR=$API_ERROR
    [[ $API_STATUS == 404 ]] || return 1
    lease_object "$IDENTITY" "" 0 "$seconds" ""
    lease_write create "$REPLY"
    return
  fi
  IFS= read -r -d '' record <"$RUN/lease.answer"
  # The holder is any string another process wrote: data, never a word of ours. jq compares it with this
  # process's identity (none|self|other) and hands it over JSON-quoted and base64-encoded, one word. The
  # other fields are validated by the API server (times, integers) and cannot hold a space.
  # whose holder(base64 of JSON) version renewTime acquireTime transitions duration ("-" for an empty one)
  read -r whose holder version renewed acquired transitions duration < <(jq -r --arg me "$IDENTITY" '
      (.spec.holderIdentity // "") as $holder
      | [(if $holder == "" then "none" elif $holder == $me then "self" else "other" end),
         ($holder | @json | @base64), .metadata.resourceVersion,
         (.spec.renewTime // "-"), (.spec.acquireTime // "-"), (.spec.leaseTransitions // 0),
         (.spec.leaseDurationSeconds // 0)] | join(" ")' <<<"$record") || return 1
  [[ $transitions =~ ^[0-9]+$ && $duration =~ ^[0-9]+$ ]] || return 1
  now_us
  now=$REPLY
  if [[ "$holder $renewed" != "$LEASE_OBSERVED" ]]; then
    LEASE_OBSERVED="$holder $renewed"
    LEASE_OBSERVED_AT=$now
  fi
  if [[ $whose == other ]] && ((now < LEASE_OBSERVED_AT + duration * 1000000)); then
    # shellcheck disable=SC2034 # read by keep_lease (manager.sh)
    LEASE_ERROR="held by another"
    return 1 # held by another, and renewed recently
  fi
  if [[ $whose == self ]]; then
    [[ $acquired == - ]] && acquired=""
    lease_object "$IDENTITY" "$acquired" "$transitions" "$seconds" "$version"
  else
    [[ $whose == none ]] || log "the Lease held by $(base64 -d <<<"$holder") expired: taking it over"
    lease_object "$IDENTITY" "" $((transitions + 1)) "$seconds" "$version"
  fi
  lease_write replace "$REPLY"
  # exercise: leader-election end
}

# lease_release: give the Lease up at once (holder empty), so a standby need not wait for it to expire.
# Returns 2, writing nothing, when this process does not hold it (a standby, or a leader whose last renewal
# failed: the Lease may be another's by now).
lease_release() {
  [[ -n $LEASE_RESOURCE_VERSION ]] || return 2
  lease_object "" "" "$LEASE_TRANSITIONS" 1 "$LEASE_RESOURCE_VERSION"
  lease_write replace "$REPLY" || return 1
  LEASE_RESOURCE_VERSION=""
}

# ----- the leader's renewal clock (called by the manager's loop) -----------------------------------------------------------------------------------------

# acquire_lease: one attempt to take (or keep) the Lease as a candidate, each request bounded by
# --renew-deadline; on success the renewal clock starts.
acquire_lease() {
  now_us
  local started=$REPLY
  LEASE_ERROR=""
  LEASE_DEADLINE_US=$((started + RENEW_DEADLINE_US))
  lease_try_acquire_or_renew || return 1
  LEASE_RENEWED_AT=$started
  LEASE_NEXT_RENEWAL=$((started + RETRY_PERIOD_US))
}

# keep_lease: with --leader-elect, renew the Lease when a renewal is due (every --retry-period). The
# attempt must end by the last renewal + --renew-deadline (leader.sh); a failed one is retried after a retry
# period, or at that deadline if it comes first; at the deadline the Lease counts as lost: a standby may
# take it over any moment from then on, so shutdown 1 ends every process of ours at once.
keep_lease() {
  $LEADER_ELECT || return 0
  now_us
  local started=$REPLY
  ((started >= LEASE_NEXT_RENEWAL)) || return 0
  LEASE_DEADLINE_US=$((LEASE_RENEWED_AT + RENEW_DEADLINE_US))
  LEASE_ERROR=""
  if lease_try_acquire_or_renew; then
    LEASE_RENEWED_AT=$started
    LEASE_NEXT_RENEWAL=$((started + RETRY_PERIOD_US))
    return 0
  fi
  local why=${LEASE_ERROR:-held by another}
  now_us
  if ((REPLY >= LEASE_DEADLINE_US)); then
    log "error: could not renew the Lease within ${RENEW_DEADLINE}s ($why): stopping"
    shutdown 1
  fi
  log "renewing the Lease failed ($why): retrying until the renew deadline"
  LEASE_NEXT_RENEWAL=$((REPLY + RETRY_PERIOD_US))
  ((LEASE_NEXT_RENEWAL <= LEASE_DEADLINE_US)) || LEASE_NEXT_RENEWAL=$LEASE_DEADLINE_US
}

# pause_until_renewal: pause until the next renewal is due (without leader election: 1 s).
pause_until_renewal() {
  if ! $LEADER_ELECT; then
    pause 1
    return
  fi
  now_us
  local left=$((LEASE_NEXT_RENEWAL - REPLY))
  ((left >= 1000)) || left=1000 # `read -t 0` would not wait at all
  seconds_text "$left"
  pause "$REPLY"
}

# lease_clock_reset: no renewal yet (the manager calls it at start).
lease_clock_reset() {
  LEASE_RENEWED_AT=0 LEASE_NEXT_RENEWAL=0
}

# release_lease: give the Lease up on shutdown. Its requests end by the last renewal + --renew-deadline: a
# Lease we may have lost by then is not ours to release.
release_lease() {
  LEASE_DEADLINE_US=$((LEASE_RENEWED_AT + RENEW_DEADLINE_US))
  lease_release
  case $? in
    0) log "released the Lease" ;;
    2) ;; # not ours: nothing to release
    *) log "could not release the Lease: ${LEASE_ERROR:-no answer}" ;;
  esac
}
