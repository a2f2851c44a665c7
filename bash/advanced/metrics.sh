# shellcheck shell=bash
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
