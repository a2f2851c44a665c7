# shellcheck shell=bash
# The registry (Python: registry.py, Go: registry.go; SPEC.md, "Finalizer and registry"): one ConfigMap per
# namespace, staticsite-registry, with one key per site, NAME: URL, and exactly the namespace's sites. Its
# writes (merge patches, so two workers never overwrite each other's keys), what the reconcile reads of it,
# and what its events queue. Which keys a reconcile adds or removes, reconciler.jq decides (stray_keys,
# registered). Needs util.sh, site.sh and api.sh.

# registry_add NAMESPACE PATCH OBJECT create|patch: put the site's key in the namespace's registry: patch it,
# or create it when the cache has none; if the registry turns out to exist (or not), the other way.
registry_add() {
  local answer=$WORKDIR/answer
  if [[ $4 == patch ]]; then
    api_patch_registry "$1" "$2" "$answer" && return 0
    [[ $API_STATUS == 404 ]] || return 1
    api_create_registry "$1" "$3" "$answer"
  else
    api_create_registry "$1" "$3" "$answer" && return 0
    [[ $API_STATUS == 409 ]] || return 1
    api_patch_registry "$1" "$2" "$answer"
  fi
}

# cached_registry NAMESPACE: what the planner needs of the namespace's registry, as JSON, in REPLY: null when
# the cache has none; {"keys": [...]} when every key of it maps to its site's URL under a Service name (the
# informer's summary, registry_summary_write: a few bytes a site); else the cached object itself (someone
# wrote other keys: the planner looks at them all). The whole object, up to some 90 KB at 1,000 sites, is
# so not sent to jq at every reconcile.
cached_registry() {
  local state keys=""
  cached "$1" configmaps "$REGISTRY_NAME"
  if [[ $REPLY == /dev/null ]]; then
    REPLY=null
  elif [[ -f $RUN/registry/$1 ]] && IFS=' ' read -r state keys <"$RUN/registry/$1" && [[ $state == only ]]; then
    local -a names
    IFS=' ' read -r -a names <<<"$keys"
    REPLY='{"keys":[]}'
    if ((${#names[@]} > 0)); then
      printf -v REPLY '"%s",' "${names[@]}" # Service names, checked by informer.jq: safe in a JSON string
      REPLY="{\"keys\":[${REPLY%,}]}"
    fi
  else
    json_file "$REPLY"
  fi
}

# informer_registry_changed NAMESPACE STATE KEYS: the registry of NAMESPACE was written or deleted (STATE
# gone); its summary for the reconciler is written first (registry_summary_write). Its keys must be exactly
# the namespace's sites (SPEC.md), so queue the sites whose key is missing or wrong (not in KEYS, the keys
# that map to their site's URL), or every site when the registry may hold a key of no site (STATE other, or
# a key whose site the cache does not have).
# Only sites whose name is a Service name hold a key. A key missing now that was there at the last change
# (the summary before this one, also `only`) is one someone removed or changed: only its site is queued.
# Without such a summary (the registry is new to this informer, or was not all good) every site without
# its key is. So a namespace of N new sites costs N reconciles and N lookups here, not N * N of each (each
# key added is a change, and every site without its key yet would be queued again at each).
informer_registry_changed() {
  local namespace=$1 state=$2 sites=$RUN/cache/$SITE_RESOURCE/$1 name previous_state="" previous=""
  local -a keys=() names=()
  local -A good=()
  if [[ -f $RUN/registry/$1 ]]; then IFS=' ' read -r previous_state previous <"$RUN/registry/$1"; fi
  registry_summary_write "$@"
  IFS=' ' read -r -a keys <<<"$3"
  for name in "${keys[@]}"; do
    good[$name]=1
    [[ -e $sites/$name.json ]] || state=other
  done
  if [[ $state == only && $previous_state == only ]]; then
    IFS=' ' read -r -a names <<<"$previous" # Service names (informer.jq): no other check needed
    for name in "${names[@]}"; do
      if [[ -z ${good[$name]+x} && -e $sites/$name.json ]]; then printf 'add %s/%s\n' "$namespace" "$name" >&"$INF_QUEUE"; fi
    done
    return 0
  fi
  names=("$sites"/*.json)
  [[ -e ${names[0]} ]] || return 0
  names=("${names[@]##*/}")
  for name in "${names[@]%.json}"; do
    [[ ${#name} -le 63 && $name =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]] || continue
    if [[ $state != only || -z ${good[$name]+x} ]]; then printf 'add %s/%s\n' "$namespace" "$name" >&"$INF_QUEUE"; fi
  done
}

# registry_summary_write NAMESPACE STATE KEYS: $RUN/registry/NAMESPACE, one line "STATE KEYS" (informer.jq's
# REGISTRY record: the keys that map to their site's URL, Service names all); removed when the registry is
# gone. The reconciler reads it instead of the whole registry (reconciler.sh, cached_registry).
registry_summary_write() {
  local file=$RUN/registry/$1
  if [[ $2 == gone ]]; then
    rm -f "$file"
    return 0
  fi
  [[ -d $RUN/registry ]] || mkdir -p "$RUN/registry"
  printf '%s %s\n' "$2" "$3" >"$file.tmp" && mv -f "$file.tmp" "$file"
}
