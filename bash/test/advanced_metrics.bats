#!/usr/bin/env bats
# The Prometheus text (bash/advanced/endpoints.sh: metrics_render).
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  metrics_init
}

@test "before any reconcile every sample is zero" {
  metrics_render
  [[ $REPLY == *'staticsite_reconcile_total{result="success"} 0'* ]]
  [[ $REPLY == *'staticsite_reconcile_total{result="error"} 0'* ]]
  [[ $REPLY == *'staticsite_reconcile_duration_seconds_bucket{le="+Inf"} 0'* ]]
  [[ $REPLY == *'staticsite_queue_depth 0'* ]]
  [[ $REPLY == *'# TYPE staticsite_reconcile_duration_seconds histogram'* ]]
}

@test "reconciles are counted by result, and the histogram's buckets are cumulative" {
  metrics_observe success 3000     # 3 ms
  metrics_observe success 100000   # 100 ms: on the 0.1 bucket's bound
  metrics_observe error 2000000    # 2 s
  metrics_observe success 20000000 # 20 s: only in +Inf
  METRICS_DEPTH=7
  metrics_render
  [[ $REPLY == *'staticsite_reconcile_total{result="success"} 3'* ]]
  [[ $REPLY == *'staticsite_reconcile_total{result="error"} 1'* ]]
  [[ $REPLY == *'_bucket{le="0.005"} 1'$'\n'* ]]
  [[ $REPLY == *'_bucket{le="0.075"} 1'$'\n'* ]]
  [[ $REPLY == *'_bucket{le="0.1"} 2'$'\n'* ]]
  [[ $REPLY == *'_bucket{le="2.5"} 3'$'\n'* ]]
  [[ $REPLY == *'_bucket{le="10.0"} 3'$'\n'* ]]
  [[ $REPLY == *'_bucket{le="+Inf"} 4'$'\n'* ]]
  [[ $REPLY == *'staticsite_reconcile_duration_seconds_sum 22.103000'$'\n'* ]]
  [[ $REPLY == *'staticsite_reconcile_duration_seconds_count 4'$'\n'* ]]
  [[ $REPLY == *'staticsite_queue_depth 7'$'\n'* ]]
}

@test "every sample line is NAME VALUE, as a Prometheus scraper splits it" {
  metrics_observe success 1
  metrics_render
  while IFS= read -r line; do
    [[ -z $line || $line == '#'* ]] && continue
    [[ $line =~ ^staticsite_[a-z_]+(\{[a-z]+=\"[^\"]+\"\})?\ [0-9.]+$ ]]
  done <<<"$REPLY"
}

@test "the metrics file is replaced only when the text changes" {
  metrics_queue_depth 0
  [ -f "$RUN/state/metrics" ]
  touch -d '2000-01-01' "$RUN/state/metrics"
  metrics_queue_depth 0
  [ "$(stat -c %Y "$RUN/state/metrics")" -lt 1000000000 ]
  metrics_queue_depth 1
  [ "$(stat -c %Y "$RUN/state/metrics")" -gt 1000000000 ]
  grep -qx 'staticsite_queue_depth 1' "$RUN/state/metrics"
}
