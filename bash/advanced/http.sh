#!/usr/bin/env bash
# One HTTP request of the health or metrics endpoint (SPEC.md), on stdin and stdout: socat listens and runs
# this script for each connection (see http_serve in manager.sh). MODE is `health` (/healthz, /readyz) or
# `metrics` (/metrics); the state comes from files in $STATICSITE_STATE that the controller keeps:
#   ready     exists once the informers have synced, or while the process waits as a standby
#   metrics   the Prometheus text of the dispatcher (queue.sh)
#   leader    1 while this process leads, else 0
# Usage: http.sh health|metrics
set -uo pipefail
export LC_ALL=C # Content-Length counts bytes

mode=${1:-health}
state=${STATICSITE_STATE:?}

# respond CODE BODY [CONTENT_TYPE]
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

IFS=' ' read -r -t 5 method target _ || exit 0
# Read the headers to their end: closing with unread input would reset the connection under the answer.
while IFS= read -r -t 5 line; do
  [[ -z ${line%$'\r'} ]] && break
done
path=${target%%\?*}
if [[ $method != GET && $method != HEAD ]]; then
  respond 405 $'method not allowed\n'
  exit 0
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
    body+="# HELP staticsite_leader 1 while this process leads (and reconciles).
# TYPE staticsite_leader gauge
staticsite_leader ${leader:-0}
"
    respond 200 "$body" 'text/plain; version=0.0.4; charset=utf-8'
    ;;
  *) respond 404 $'not found\n' ;;
esac
