# shellcheck shell=bash
# Pod records and their output, on top of the jq definitions in pods.jq.

PODS_JQ_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")

# jq with pods.jq on its library path: -r prints strings raw and, with -c, objects as compact JSON.
# A filter starts with `include "pods";` to use the definitions.
PODS_JQ=(jq -rc -L "$PODS_JQ_DIR")

# pods_jq FILTER [JQ ARGS...]: runs FILTER with pods.jq included.
pods_jq() {
  "${PODS_JQ[@]}" "include \"pods\"; $1" "${@:2}"
}

# pods_url NAMESPACE KEY=VALUE...: the API path of the pods of NAMESPACE ("" for all), with the query parameters
# that have a value, URL-encoded, e.g. pods_url default limit=500 continue= labelSelector=app=web.
pods_url() {
  local namespace=$1
  shift
  # shellcheck disable=SC2016 # $ARGS and $namespace are jq's variables
  pods_jq '$ARGS.positional | pods_url($namespace)' -n --arg namespace "$namespace" --args "$@"
}

# print_pods_json FILE: the list entries of FILE (see list_entry in pods.jq) as the contract's JSON records.
print_pods_json() {
  jq -c 'del(.created)' "$1"
}

# print_pods_table FILE ALL_NAMESPACES: the list entries of FILE as a kubectl-like table. Slurping is fine here:
# these are the small entries, and the column widths need all of them anyway.
print_pods_table() {
  # shellcheck disable=SC2016 # jq's variables
  pods_jq 'pods_table($now; $all_namespaces)' --slurp --argjson now "$(date +%s)" \
    --argjson all_namespaces "$2" "$1"
}
