#!/usr/bin/env bats
# The work queue (bash/advanced/queue.sh): de-duplication, one worker per key, backoff, resync.
# shellcheck disable=SC2016,SC2030,SC2031,SC2034 # jq programs; globals the sourced functions read

setup() {
  load advanced_helper
  setup_advanced
  queue_init
}

pop_all() {
  local keys=()
  while queue_pop; do keys+=("$REPLY"); done
  echo "${keys[*]}"
}

@test "a key added twice is queued once, in the order of the first add" {
  queue_add demo/a
  queue_add demo/b
  queue_add demo/a
  queue_len
  [ "$REPLY" -eq 2 ]
  [ "$(pop_all)" = "demo/a demo/b" ]
}

@test "an empty queue pops nothing" {
  run queue_pop
  [ "$status" -eq 1 ]
}

@test "a key added while a worker has it waits until the worker is done, then comes back once" {
  queue_add demo/a
  queue_pop
  [ "$REPLY" = demo/a ]
  queue_add demo/a
  queue_add demo/a
  queue_len
  [ "$REPLY" -eq 0 ] # never handed to a second worker
  queue_done demo/a
  [ "$(pop_all)" = "demo/a" ]
}

@test "a key not changed while processing is not queued again when done" {
  queue_add demo/a
  queue_pop
  queue_done demo/a
  queue_len
  [ "$REPLY" -eq 0 ]
}

@test "the backoff doubles from 5 ms and stops at 60 s" {
  local failures expected=(5 10 20 40 80 160 320 640 1280 2560 5120 10240 20480 40960 60000 60000)
  for failures in "${!expected[@]}"; do
    queue_backoff_ms "$failures"
    [ "$REPLY" -eq "${expected[failures]}" ]
  done
  queue_backoff_ms 1000
  [ "$REPLY" -eq 60000 ]
}

@test "a failed key comes back after its backoff, and a success forgets the failures" {
  queue_add_rate_limited demo/a 1000000
  [ "${QUEUE_WAITING[demo/a]}" -eq 1005000 ]
  queue_promote 1004999
  queue_len
  [ "$REPLY" -eq 0 ]
  queue_next_due
  [ "$REPLY" -eq 1005000 ]
  queue_promote 1005000
  [ "$(pop_all)" = "demo/a" ]
  queue_done demo/a
  queue_add_rate_limited demo/a 2000000
  [ "${QUEUE_WAITING[demo/a]}" -eq 2010000 ] # second failure: 10 ms
  queue_forget demo/a
  queue_promote 2010000
  queue_pop
  queue_done demo/a
  queue_add_rate_limited demo/a 3000000
  [ "${QUEUE_WAITING[demo/a]}" -eq 3005000 ] # forgotten: 5 ms again
}

@test "a key waiting twice keeps the earlier time; the next due time is the earliest" {
  QUEUE_FAILURES["demo/a"]=3
  queue_add_rate_limited demo/a 0 # 40 ms
  QUEUE_FAILURES["demo/a"]=0
  queue_add_rate_limited demo/a 0 # 5 ms
  [ "${QUEUE_WAITING[demo/a]}" -eq 5000 ]
  QUEUE_FAILURES["demo/b"]=1
  queue_add_rate_limited demo/b 0 # 10 ms
  queue_add_rate_limited demo/a 0 # its 2nd failure would be later: kept at 5 ms
  [ "${QUEUE_WAITING[demo/a]}" -eq 5000 ]
  queue_next_due
  [ "$REPLY" -eq 5000 ]
}

@test "the resync queues every site of the cache" {
  mkdir -p "$RUN/cache/staticsites/one" "$RUN/cache/staticsites/two"
  echo '{}' >"$RUN/cache/staticsites/one/a.json"
  echo '{}' >"$RUN/cache/staticsites/one/b.c.json"
  echo '{}' >"$RUN/cache/staticsites/two/a.json"
  queue_resync
  [ "$(pop_all)" = "one/a one/b.c two/a" ]
}

@test "add-namespace queues the namespace's sites that can hold a registry key; a bad namespace, nothing" {
  mkdir -p "$RUN/cache/staticsites/one" "$RUN/cache/staticsites/two"
  for name in a b.c 1st; do echo '{}' >"$RUN/cache/staticsites/one/$name.json"; done
  echo '{}' >"$RUN/cache/staticsites/two/a.json"
  queue_add_namespace one
  [ "$(pop_all)" = "one/a" ]
  queue_init # pop_all ran in a subshell
  for namespace in ../one 'one/..' '*' ''; do queue_add_namespace "$namespace"; done
  [ "$(pop_all)" = "" ]
}

@test "a message cut by the read's time limit is not lost: its bytes begin the next message" {
  local fifo=$BATS_TEST_TMPDIR/queue.fifo fd
  mkfifo "$fifo"
  exec {fd}<>"$fifo"
  printf 'add demo/' >&"$fd" # half a line: the read's time runs out in the middle of it
  if queue_read_message "$fd" 0.01; then false; fi
  printf 'a\nstop\n' >&"$fd"
  queue_read_message "$fd" 1
  [ "$REPLY" = "add demo/a" ]
  queue_read_message "$fd" 1
  [ "$REPLY" = stop ]
  exec {fd}>&-
}
