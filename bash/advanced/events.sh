# shellcheck shell=bash
# Events (Python: events.py, Go: events.go; SPEC.md, "Events"): core/v1 Events about a site, written in the
# background. What an event says, reconciler.jq decides (event). Needs util.sh and api.sh.

# Events are written in the background, so a slow or refusing events API never holds a reconcile (SPEC: an
# event "never fails or blocks a reconcile"): event_send starts one curl for the event and returns. Each
# worker has EVENT_WRITERS slots: an event that finds every slot of its worker taken (the events API has been
# slow for a while) is dropped with a log line, as the other languages' recorders drop events when their
# queue is full. Each write is bounded by EVENT_TIMEOUT seconds.
#
# A slot is a file, $RUN/event-writer.WORKER.SLOT, taken while it holds a line: only the worker's own
# reconciles (one at a time) take its slots, and only the writer frees it, by emptying it; so neither needs
# a lock, and no mkdir or rm process runs per event.
EVENT_WRITERS=2
# shellcheck disable=SC2034 # read by api_create_event
EVENT_TIMEOUT=10

# event_send KEY EVENT: create the core/v1 Event (JSON) about the site KEY in the background; log and drop it
# when no slot is free.
event_send() {
  local slot file
  for ((slot = 1; slot <= EVENT_WRITERS; slot++)); do
    file=$RUN/event-writer.$WORKER_ID.$slot
    if [[ ! -s $file ]]; then
      printf 'taken\n' >"$file"
      event_write "$1" "$2" "$file" </dev/null >/dev/null &
      return 0
    fi
  done
  log "reconcile $1: dropping an event: $EVENT_WRITERS events of this worker are still being written"
}

# event_write KEY EVENT SLOT: write the event, log a failure, free the slot.
event_write() {
  api_create_event "${1%%/*}" "$2" "$3.answer" || log "reconcile $1: writing an event: $API_ERROR"
  : >"$3"
}
