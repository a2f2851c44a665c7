#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The health and metrics endpoints (SPEC.md; Python: endpoints.py, Go: endpoints.go). socat listens (http_serve)
# and runs this file for each connection, which answers one request (endpoints_answer MODE) on stdin and
# stdout: MODE is `health` (/healthz, /readyz) or `metrics` (/metrics). The state comes from files in
# $STATICSITE_STATE ($RUN/state) that the controller keeps:
#   ready     exists once the informers have synced, or while the process waits as a standby (set_ready)
#   metrics   the Prometheus text of the dispatcher (queue.sh; metrics_render below)
#   leader    1 while this process leads, else 0 (set_leader)
# Sourced by the controller, it defines the functions; run, it answers. Usage: endpoints.sh health|metrics

# http_serve ADDRESS MODE: socat listening on ADDRESS, running this file (endpoints_answer) for each connection;
# its pid in REPLY.
# At most HTTP_MAX_CONNECTIONS requests are served at once (each is a bash process): a flood of connections
# waits in the backlog instead of forking the controller out of memory.
HTTP_MAX_CONNECTIONS=8
http_serve() {
  local host port listen
  split_address "$1"
  read -r host port <<<"$REPLY" || true
  [[ -n $port ]] || { port=$host host=""; }
  if [[ $host == *:* ]]; then listen="TCP6-LISTEN:$port,bind=[$host]"; else listen="TCP4-LISTEN:$port"; fi
  [[ $host == *:* || -z $host ]] || listen+=",bind=$host"
  STATICSITE_STATE=$RUN/state STATICSITE_HTTP=$ADVANCED_DIR/endpoints.sh \
    socat -T 10 "$listen,reuseaddr,fork,max-children=$HTTP_MAX_CONNECTIONS,backlog=64" "SYSTEM:exec bash \"\$STATICSITE_HTTP\" $2" &
  REPLY=$!
}

# start_endpoints: /healthz and /readyz on --health-addr, /metrics on --metrics-addr. Exits 1 when one
# cannot listen (the address is taken).
start_endpoints() {
  http_serve "$HEALTH_ADDR" health
  HEALTH_PID=$REPLY
  http_serve "$METRICS_ADDR" metrics
  METRICS_PID=$REPLY
  sleep 0.2 # socat fails at once when it cannot bind
  kill -0 "$HEALTH_PID" 2>/dev/null || fail "cannot serve the health endpoints on $HEALTH_ADDR"
  kill -0 "$METRICS_PID" 2>/dev/null || fail "cannot serve the metrics on $METRICS_ADDR"
}

# set_leader 0|1 and set_ready true|false: the state the endpoints report.
set_leader() {
  printf '%s\n' "$1" >"$RUN/state/leader"
}
set_ready() {
  if [[ $1 == true ]]; then : >"$RUN/state/ready"; else rm -f "$RUN/state/ready"; fi
}

# respond CODE BODY [CONTENT_TYPE]: one HTTP answer, the connection closed after it.
respond() {
  local reason
  case $1 in
    200) reason=OK ;;
    404) reason="Not Found" ;;
    405) reason="Method Not Allowed" ;;
    *) reason="Service Unavailable" ;;
  esac
  printf 'HTTP/1.1 %s %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "$reason" "${3:-text/plain; charset=utf-8}" "${#2}" "$2"
}

# endpoints_answer MODE: read one request on stdin, answer it on stdout.
endpoints_answer() {
  local mode=$1 state=${STATICSITE_STATE:?} method target line path body leader
  IFS=' ' read -r -t 5 method target _ || return 0
  # Read the headers to their end: closing with unread input would reset the connection under the answer.
  while IFS= read -r -t 5 line; do
    [[ -z ${line%$'\r'} ]] && break
  done
  path=${target%%\?*}
  if [[ $method != GET && $method != HEAD ]]; then
    respond 405 $'method not allowed\n'
    return 0
  fi
  case $mode:$path in
    health:/healthz) respond 200 $'ok\n' ;;
    health:/readyz)
      if [[ -e $state/ready ]]; then respond 200 $'ok\n'; else respond 503 $'informers not synced\n'; fi
      ;;
    metrics:/metrics)
      body=""
      [[ -r $state/metrics ]] && body=$(<"$state/metrics")$'\n'
      leader=0
      [[ -r $state/leader ]] && read -r leader <"$state/leader"
      metrics_leader_line "${leader:-0}"
      body+=$REPLY
      respond 200 "$body" 'text/plain; version=0.0.4; charset=utf-8'
      ;;
    *) respond 404 $'not found\n' ;;
  esac
}

# ----- the metrics' text ----------------------------------------------------------
# The Prometheus metrics (SPEC.md: same names in every language). The dispatcher (queue.sh) counts, since
# every reconcile's result passes through it, and writes the text to $RUN/state/metrics; the HTTP handler
# (endpoints.sh) serves that file and adds staticsite_leader from $RUN/state/leader (the manager's).

# The histogram's buckets, in microseconds and as printed: the Python client's defaults.
METRICS_BUCKETS_US=(5000 10000 25000 50000 75000 100000 250000 500000 750000 1000000 2500000 5000000 7500000
  10000000)
METRICS_BUCKET_LABELS=(0.005 0.01 0.025 0.05 0.075 0.1 0.25 0.5 0.75 1.0 2.5 5.0 7.5 10.0)

# metrics_init: every counter at zero.
metrics_init() {
  METRICS_SUCCESS=0
  METRICS_ERROR=0
  METRICS_COUNT=0
  METRICS_SUM_US=0
  METRICS_DEPTH=0
  METRICS_BUCKETS=()
  local i
  for i in "${!METRICS_BUCKETS_US[@]}"; do METRICS_BUCKETS[i]=0; done
  METRICS_WRITTEN=""
}

# metrics_observe success|error MICROSECONDS: one reconcile.
metrics_observe() {
  local i
  if [[ $1 == success ]]; then ((METRICS_SUCCESS += 1)); else ((METRICS_ERROR += 1)); fi
  METRICS_COUNT=$((METRICS_COUNT + 1)) METRICS_SUM_US=$((METRICS_SUM_US + $2))
  for i in "${!METRICS_BUCKETS_US[@]}"; do
    if (($2 <= METRICS_BUCKETS_US[i])); then
      ((METRICS_BUCKETS[i] += 1))
      break
    fi
  done
}

# metrics_render: the text of the metrics (all but staticsite_leader), in REPLY.
metrics_render() {
  local i cumulative=0 text
  text='# HELP staticsite_reconcile_total Reconciles, by result.
# TYPE staticsite_reconcile_total counter
'
  text+="staticsite_reconcile_total{result=\"success\"} $METRICS_SUCCESS
staticsite_reconcile_total{result=\"error\"} $METRICS_ERROR
"
  text+='# HELP staticsite_reconcile_duration_seconds How long a reconcile took.
# TYPE staticsite_reconcile_duration_seconds histogram
'
  for i in "${!METRICS_BUCKETS_US[@]}"; do
    cumulative=$((cumulative + METRICS_BUCKETS[i]))
    text+="staticsite_reconcile_duration_seconds_bucket{le=\"${METRICS_BUCKET_LABELS[i]}\"} $cumulative
"
  done
  seconds_text "$METRICS_SUM_US"
  text+="staticsite_reconcile_duration_seconds_bucket{le=\"+Inf\"} $METRICS_COUNT
staticsite_reconcile_duration_seconds_sum $REPLY
staticsite_reconcile_duration_seconds_count $METRICS_COUNT
"
  text+="# HELP staticsite_queue_depth Keys waiting in the work queue.
# TYPE staticsite_queue_depth gauge
staticsite_queue_depth $METRICS_DEPTH
"
  REPLY=$text
}

# metrics_queue_depth N: set the gauge and write the file if anything changed since the last write.
metrics_queue_depth() {
  METRICS_DEPTH=$1
  metrics_render
  [[ $REPLY == "$METRICS_WRITTEN" ]] && return 0
  METRICS_WRITTEN=$REPLY
  metrics_write "$REPLY"
}

# metrics_write TEXT: replace the metrics file at once (the HTTP handler never sees half of it).
metrics_write() {
  printf '%s' "$1" >"$RUN/state/metrics.tmp" && mv -f "$RUN/state/metrics.tmp" "$RUN/state/metrics"
}

# metrics_leader_line 0|1: the staticsite_leader gauge, in REPLY.
metrics_leader_line() {
  REPLY="# HELP staticsite_leader 1 while this process is the one reconciling, else 0.
# TYPE staticsite_leader gauge
staticsite_leader $1
"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -uo pipefail
  export LC_ALL=C # Content-Length counts bytes
  endpoints_answer "${1:-health}"
fi
