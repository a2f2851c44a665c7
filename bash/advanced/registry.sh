# shellcheck shell=bash
# The registry (Python: registry.py, Go: registry.go; SPEC.md, "Finalizer and registry"): one ConfigMap per
# namespace, staticsite-registry, with one key per site, NAME: URL, and exactly the namespace's sites. Its
# writes (merge patches, so two workers never overwrite each other's keys), what the reconcile reads of it,
# and what its events queue. Which keys a reconcile adds or removes, reconciler.jq decides (stray_keys,
# registered). Needs util.sh, site.sh and api.sh.

# registry_add NAMESPACE PATCH OBJECT create|patch NAME: put the site NAME's key in the namespace's registry:
# patch it, or create it when the cache has none; if the registry turns out to exist (or not), the other way.
registry_add() {
  local answer=$WORKDIR/answer
  registry_key_back "$1" "$5"
  if [[ $4 == patch ]]; then
    registry_patch "$1" "$2" "$answer" && return 0
    [[ $API_STATUS == 404 ]] || return 1
    api_create_registry "$1" "$3" "$answer"
  else
    api_create_registry "$1" "$3" "$answer" && return 0
    [[ $API_STATUS == 409 ]] || return 1
    registry_patch "$1" "$2" "$answer"
  fi
}

# ----- the patches: a group commit per namespace ---------------------------------------------------------------
# (Python: RegistryWriter, Go: registryWriter.) Each merge patch makes the API server rewrite the whole
# registry (some 90 KB at 1,000 sites) and send it to every informer of it, so a patch per key makes a
# namespace's N creates or deletes cost N * N. So the workers combine their changes, like a database's group
# commit:
# - a worker leaves its change as a file in the namespace's directory, $RUN/registry-writes/NAMESPACE, then
#   takes the namespace's lock (flock on its lock file);
# - whoever holds the lock sends every change waiting there in one merge patch, and leaves each of their
#   workers the outcome (the HTTP status and the error line) in a file beside the change;
# - a worker that gets the lock and finds its outcome there is done; one whose change is still waiting sends
#   the next patch.
# No change waits longer than one patch, and under load a patch carries as many keys as there are workers
# waiting. There is no process of its own to start and stop: the lock belongs to the file descriptor of the
# worker's reconcile, so a worker that dies releases it. SPEC.md allows several keys in one patch.

# A change that can be combined: {"data": {KEY: URL or null, ...}} as the planner prints it (compact), each
# KEY a ConfigMap key and each URL a site's (no comma, quote or backslash in either). A change that is not
# exactly this is sent alone: it is never taken apart as text.
REGISTRY_ENTRY='"[-._a-zA-Z0-9]+":(null|"[-.:/a-z0-9]+")'
REGISTRY_CHANGE_PATTERN="^\\{\"data\":\\{$REGISTRY_ENTRY(,$REGISTRY_ENTRY)*\\}\\}\$"
REGISTRY_LOCK_TIMEOUT=$((API_TIMEOUT + 10)) # seconds: the holder's patch is bounded by API_TIMEOUT

# registry_patch NAMESPACE PATCH OUT: a merge patch of the namespace's registry (as api_patch_registry),
# sent with the other workers' changes waiting (the group commit above). API_STATUS and API_ERROR are those
# of the patch that carried it; OUT holds the answer only when this worker sent that patch.
registry_patch() {
  local namespace=$1 patch=$2 out=$3 dir id lock result
  if [[ ! $patch =~ $REGISTRY_CHANGE_PATTERN || ! $namespace =~ $NAMESPACE_PATTERN ]]; then
    api_patch_registry "$namespace" "$patch" "$out"
    return
  fi
  dir=$RUN/registry-writes/$namespace
  [[ -d $dir ]] || mkdir -p "$dir"
  # Unique while its worker lives (the PID), and names sort as the changes came (microseconds since 1970).
  id=$dir/${EPOCHREALTIME/[.,]/}.$BASHPID
  printf '%s\n' "$patch" >"$id.tmp" && mv -f "$id.tmp" "$id.change" || return 1
  exec {lock}>>"$dir/lock"
  if ! flock -w "$REGISTRY_LOCK_TIMEOUT" "$lock"; then
    exec {lock}>&-
    rm -f "$id.change" "$id.done"
    API_STATUS=000 API_ERROR="the registry's lock stayed taken for $REGISTRY_LOCK_TIMEOUT s"
    return 1
  fi
  [[ -f $id.done ]] || registry_commit "$namespace" "$dir" "$out"
  registry_outcome "$id.done"
  result=$?
  exec {lock}>&-
  return "$result"
}

# registry_commit NAMESPACE DIR OUT: (the lock held) send every change waiting in DIR in one merge patch,
# and leave each its outcome, FILE.done for FILE.change. A later change of a key wins, as it would in
# patches of its own (the names sort as the changes came).
registry_commit() {
  local namespace=$1 dir=$2 out=$3 file line entry key patch=""
  local -a files=("$dir"/*.change) entries=() order=()
  local -A values=()
  for file in "${files[@]}"; do
    IFS= read -r line <"$file" || true
    line=${line#'{"data":{'}
    # Entries match REGISTRY_ENTRY (checked before the file was written): split at the commas, and each at
    # the colon after its key (a key has none).
    IFS=, read -r -a entries <<<"${line%'}}'}" || true
    for entry in "${entries[@]}"; do
      key=${entry%%:*}
      [[ -n ${values[$key]+x} ]] || order+=("$key")
      values[$key]=${entry#*:}
    done
  done
  for key in "${order[@]}"; do patch+=${patch:+,}$key:${values[$key]}; done
  api_patch_registry "$namespace" "{\"data\":{$patch}}" "$out"
  for file in "${files[@]}"; do
    printf '%s\t%s\n' "$API_STATUS" "$API_ERROR" >"${file%.change}.done"
    rm -f "$file"
  done
}

# registry_outcome FILE: the outcome a commit left (registry_commit) in API_STATUS and API_ERROR; returns 0
# for 2xx. The file goes.
registry_outcome() {
  API_STATUS=000 API_ERROR="no outcome"
  if [[ -f $1 ]]; then IFS=$'\t' read -r API_STATUS API_ERROR <"$1" || true; fi
  rm -f "$1"
  [[ $API_STATUS == 2[0-9][0-9] ]]
}

# cached_registry NAMESPACE NAME: what the planner needs of the namespace's registry for the site NAME, as
# JSON, in REPLY, and the names of the namespace's cached sites it needs for that, a JSON array, in
# REPLY_SITES:
# - null, and no names, when the cache has no registry;
# - {"registered": true|false}, and no names, when the informer's summary (registry_summary_write) says
#   every key maps to its site's URL and names a cached site: no stray key, and NAME's key is there or not;
# - else the cached object itself, and the names: the planner looks at every key (stray_keys).
# So a reconcile costs the same in a namespace of 10 sites and of 10,000, in Bash and in jq: the whole
# registry (some 90 KB at 1,000 sites) and every site's name (cached_site_names) go to the planner only
# when someone else wrote a key.
# shellcheck disable=SC2034 # REPLY_SITES is a result, read by reconcile_plan
cached_registry() {
  local state keys=""
  REPLY_SITES="[]"
  cached "$1" configmaps "$REGISTRY_NAME"
  if [[ $REPLY == /dev/null ]]; then
    REPLY=null
  elif [[ -f $RUN/registry/$1 ]] && IFS=' ' read -r state keys <"$RUN/registry/$1" && [[ $state == only ]]; then
    # The keys are Service names (informer.jq), NAME a checked site name: a plain word search.
    if [[ " $keys " == *" $2 "* ]]; then REPLY='{"registered":true}'; else REPLY='{"registered":false}'; fi
  else
    json_file "$REPLY"
    local registry=$REPLY
    cached_site_names "$1"
    REPLY_SITES=$REPLY
    REPLY=$registry
  fi
}

# registry_site_gone NAMESPACE NAME: the site left the cache. If the registry's summary still lists its key,
# the key is stray (no cached site has that name) unless its removal is still on its way (the registry's
# event comes after the site's): either way the summary no longer vouches for every key (state other), so
# the next reconciles of the namespace look at every key and remove it if it is still there (its finalizer,
# removed by someone else, never did).
registry_site_gone() {
  local file=$RUN/registry/$1 state keys=""
  [[ ! -e $RUN/registry-removed/$1/$2 ]] || return 0 # its finalizer removed its key: the event is on its way
  [[ -f $file ]] && IFS=' ' read -r state keys <"$file" && [[ $state == only && " $keys " == *" $2 "* ]] || return 0
  printf 'other %s\n' "$keys" >"$file.$BASHPID" && mv -f "$file.$BASHPID" "$file"
}

# ----- keys on their way out -----------------------------------------------------------------------------------
# A site's finalizer removes its key, then the finalizer; the API server then deletes the site. The sites'
# informer may drop it before the registry's informer sees the event that removed its key (two watches, and
# the registry's events are the larger ones): until then the key names no cached site and looks stray, and
# every site of the namespace would look at every key (a mass delete did that hundreds of times). So the
# reconcile that removed a key leaves a mark, $RUN/registry-removed/NAMESPACE/NAME, and such a key does not
# count as stray; the mark goes when a registry event shows the key gone, or when the site is back (its key
# added again). A key someone else writes back for a site that is gone is stray again from then on.

# registry_key_removed NAMESPACE NAME: the site's key was removed (or there was no registry): mark it.
registry_key_removed() {
  [[ -d $RUN/registry-removed/$1 ]] || mkdir -p "$RUN/registry-removed/$1"
  : >"$RUN/registry-removed/$1/$2"
}

# registry_key_back NAMESPACE NAME: the site is there and adds its key: no longer on its way out.
registry_key_back() {
  rm -f "$RUN/registry-removed/$1/$2"
}

# registry_removals_seen NAMESPACE GOOD: forget the marks of the keys this registry event no longer holds
# (GOOD: the name of the associative array of its keys).
registry_removals_seen() {
  local -n present=$2
  local -a marks=("$RUN/registry-removed/$1"/*)
  local mark
  [[ -e ${marks[0]} ]] || return 0
  for mark in "${marks[@]}"; do
    [[ -n ${present[${mark##*/}]+x} ]] || rm -f "$mark"
  done
}

# informer_registry_changed NAMESPACE STATE KEYS: the registry of NAMESPACE was written or deleted (STATE
# gone); its summary for the reconciler is written first (registry_summary_write). Its keys must be exactly
# the namespace's sites (SPEC.md), so queue the sites whose key is missing or wrong (not in KEYS, the keys
# that map to their site's URL), or every site when the registry may hold a key of no site (STATE other or
# gone, or a key whose site the cache does not have and whose removal is not on its way).
# Only sites whose name is a Service name hold a key. A key missing now that was there at the last change
# (the summary before this one, also `only`) is one someone removed or changed: only its site is queued.
# Without such a summary (the registry is new to this informer, or was not all good) every site without
# its key is. So a namespace of N new sites costs N reconciles and N lookups here, not N * N of each (each
# key added is a change, and every site without its key yet would be queued again at each).
informer_registry_changed() {
  local namespace=$1 state=$2 sites=$RUN/cache/$SITE_RESOURCE/$1 name previous_state="" previous=""
  local removed=$RUN/registry-removed/$1
  local -a keys=() names=()
  local -A good=()
  if [[ -f $RUN/registry/$1 ]]; then IFS=' ' read -r previous_state previous <"$RUN/registry/$1"; fi
  # Service names (informer.jq): no glob character, no IFS but the space, so plain word splitting does it,
  # in memory (`read -a <<<` would read a here-string of 1,000 keys a byte at a time).
  # shellcheck disable=SC2206
  keys=($3)
  for name in "${keys[@]}"; do
    good[$name]=1
    [[ -e $sites/$name.json || -e $removed/$name ]] || state=other # a key on its way out is not stray
  done
  registry_removals_seen "$namespace" good
  registry_summary_write "$namespace" "$state" "$3"
  if [[ $state == only && $previous_state == only ]]; then
    # shellcheck disable=SC2206 # Service names, as the keys above
    names=($previous)
    for name in "${names[@]}"; do
      if [[ -z ${good[$name]+x} && -e $sites/$name.json ]]; then printf 'add %s/%s\n' "$namespace" "$name" >&"$INF_QUEUE"; fi
    done
    return 0
  fi
  if [[ $state != only ]]; then
    # Every site may have to look (a key may be stray): one message, and the dispatcher queues them from the
    # cache (queue_add_namespace), rather than a line per site. The dispatcher reads its FIFO a byte at a
    # time, and a mass delete makes hundreds of such changes in a row: the sites' informer drops a deleted
    # site before this one sees the event that removed its key, so the key looks stray until then.
    printf 'add-namespace %s\n' "$namespace" >&"$INF_QUEUE"
    return 0
  fi
  names=("$sites"/*.json)
  [[ -e ${names[0]} ]] || return 0
  names=("${names[@]##*/}")
  for name in "${names[@]%.json}"; do
    if [[ -z ${good[$name]+x} ]] && is_dns_1035_label "$name"; then printf 'add %s/%s\n' "$namespace" "$name" >&"$INF_QUEUE"; fi
  done
}

# registry_summary_write NAMESPACE STATE KEYS: $RUN/registry/NAMESPACE, one line "STATE KEYS" (informer.jq's
# REGISTRY record: the keys that map to their site's URL, Service names all; STATE `only` when those are all
# its keys and each names a cached site); removed when the registry is gone. The reconciler reads it
# instead of the whole registry (cached_registry).
registry_summary_write() {
  local file=$RUN/registry/$1
  if [[ $2 == gone ]]; then
    rm -f "$file"
    return 0
  fi
  [[ -d $RUN/registry ]] || mkdir -p "$RUN/registry"
  printf '%s %s\n' "$2" "$3" >"$file.tmp" && mv -f "$file.tmp" "$file"
}
