# shellcheck shell=bash
# The state and output of watch-pods (conformance/CONTRACT.md, "watch-pods"). Needs args.sh (OUTPUT).
#
# Pods travel as lines of fields separated by the unit separator, each text field JSON-encoded (see watch_entry
# and event_line in pods.jq).

SEP=$'\x1f'

# What this watcher has printed, so that a re-list can print only the difference:
# PRINTED["NAMESPACE␟NAME"]="PHASE␟RESOURCEVERSION" (encoded fields) for every pod it believes exists.
declare -gA PRINTED=()

# print_event_header: the table's header line (-o json has none).
print_event_header() {
  if [[ $OUTPUT == table ]]; then
    printf '%-9s %-20s %-40s %s\n' EVENT NAMESPACE NAME PHASE
  fi
}

# print_event TYPE NAMESPACE NAME PHASE RESOURCEVERSION (fields encoded): one line, in the chosen output.
# The JSON fields are already valid JSON strings; the table strips their quotes.
print_event() {
  local type=$1 namespace=$2 name=$3 phase=$4 resource_version=$5
  if [[ $OUTPUT == json ]]; then
    printf '{"type":"%s","namespace":%s,"name":%s,"phase":%s,"resourceVersion":%s}\n' \
      "$type" "$namespace" "$name" "$phase" "$resource_version"
  else
    printf '%-9s %-20s %-40s %s\n' "$type" "${namespace:1:-1}" "${name:1:-1}" "${phase:1:-1}"
  fi
}

# emit TYPE NAMESPACE NAME PHASE RESOURCEVERSION: prints an event and records it in PRINTED.
emit() {
  local type=$1 key=$2$SEP$3
  print_event "$@"
  if [[ $type == DELETED ]]; then
    unset 'PRINTED[$key]' # single quotes: the key is expanded once, its own quotes kept as they are
  else
    PRINTED[$key]=$4$SEP$5
  fi
}

# print_difference FILE: prints what changed between PRINTED and a fresh list (FILE: sorted watch entries):
# ADDED for pods not printed yet, MODIFIED for printed pods whose resourceVersion changed, both in list order,
# then DELETED for printed pods that are gone, with their last printed phase and resourceVersion, sorted.
# After the first list of all, when nothing is printed yet, that is one ADDED per pod.
print_difference() {
  local file=$1 namespace name phase resource_version key
  local -A listed=()
  while IFS=$SEP read -r namespace name phase resource_version; do
    key=$namespace$SEP$name
    listed[$key]=1
    if [[ ! -v PRINTED[$key] ]]; then
      emit ADDED "$namespace" "$name" "$phase" "$resource_version"
    elif [[ ${PRINTED[$key]#*"$SEP"} != "$resource_version" ]]; then
      emit MODIFIED "$namespace" "$name" "$phase" "$resource_version"
    fi
  done <"$file"
  # The printed pods missing from the list, sorted like the list (see list_pods in kube.sh for why a byte-wise
  # sort of "NAMESPACE␟NAME" gives that order).
  while IFS=$SEP read -r namespace name; do
    key=$namespace$SEP$name
    emit DELETED "$namespace" "$name" "${PRINTED[$key]%"$SEP"*}" "${PRINTED[$key]#*"$SEP"}"
  done < <(
    for key in "${!PRINTED[@]}"; do
      if [[ ! -v listed[$key] ]]; then printf '%s\n' "$key"; fi
    done | LC_ALL=C sort
  )
}
