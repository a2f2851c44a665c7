# The reconcile's decisions (SPEC.md, "Reconcile, step by step"), as a plan of writes for reconciler.sh.
#
# jq decides, Bash writes: `plan(input)` reads only cached objects and prints one line per write, in order,
# as `VERB<TAB>ARGUMENT[<TAB>ARGUMENT]` (arguments are compact JSON, except targets). SPEC.md's steps, and
# the lines each one plans (main_step runs them in this order):
#
#   1. the site gone from the cache: no plan (reconcile in reconciler.sh does not even ask)
#   2. being deleted (finalize):
#      registry-remove PATCH     {"data": {"NAME": null}} on the registry (missing registry or key: fine)
#      finalizer-remove PATCH    merge patch of the site, carrying its resourceVersion
#   3. finalizer-add PATCH       merge patch of the site, carrying its resourceVersion
#   4. an invalid spec: status and event lines (below), nothing else
#   5. registry-add PATCH OBJECT create|patch
#                                the site's key in the registry: PATCH {"data": {"NAME": URL, "STRAY": null}}
#                                when the cache has the registry, else create it as OBJECT (whichever fails,
#                                the other is tried)
#   6. lookup TARGETS            children absent from the cache, e.g. "services/hello":
#                                GET them, then plan phase "children" with what the GETs returned
#   7. apply TARGET OBJECT       server-side apply of one missing or drifted child (TARGET: RESOURCE/NAME)
#      synced EVENT              after the applies: the Synced EVENT; or, when the API server refused a child
#                                as invalid (422), phase "refused" instead
#   8. restatus                  plan phase "status" with the objects the applies returned
#      status OBJECT             server-side apply of the status subresource
# and at any step:
#      event EVENT               a core/v1 Event to create, in the background (failures are only logged)
#      error MESSAGE             the reconcile failed (the queue retries the key with backoff)
#
# No line at all: a no-op reconcile, which writes nothing. The input object:
#   {phase: "main"|"children"|"status"|"refused", site, configmap, deployment, service (cached objects or
#    null), registry (phase main only: null, the cached object, or {registered}: the informer's summary,
#    registry.sh's cached_registry), looked_up: the lookup's TARGETS, live: [what the lookup returned], applied: [what
#    this reconcile's applies returned], last_applied: [what the last apply of each child returned, any
#    reconcile's], refused: {target, message} of a child refused as invalid, hash, now,
#    event_suffix (for event names), identity, sites: [the names of the namespace's cached sites, when
#    registry is the object]}

include "site";
include "children";
include "status";

# A plan line. A string argument (lookup targets, an event name, an error message, which may quote an API
# field) has its control characters blanked, so no value can end the line or add an argument: a line that
# data could split would be a write that data could forge.
def line($verb; $arguments):
  [$verb, ($arguments[] | if type == "string" then gsub("[[:cntrl:]]"; " ") else tojson end)] | join("\t");

def has_finalizer: any((.metadata.finalizers // [])[]; . == FINALIZER);
def url: site_url(.metadata.name; .metadata.namespace);

# A core/v1 Event about the site (`.`), named as client-go names them: the site's name and the time in
# nanoseconds, in hex.
def event_name($in): "\(.metadata.name).\($in.event_suffix)";
def event($in; $type; $reason; $message): {
  apiVersion: "v1",
  kind: "Event",
  metadata: {name: event_name($in), namespace: .metadata.namespace},
  involvedObject: {
    apiVersion: API_VERSION,
    kind: KIND,
    name: .metadata.name,
    namespace: .metadata.namespace,
    uid: .metadata.uid,
    resourceVersion: .metadata.resourceVersion
  },
  type: $type,
  reason: $reason,
  message: $message,
  source: {component: MANAGER},
  reportingComponent: MANAGER,
  reportingInstance: $in.identity,
  firstTimestamp: $in.now,
  lastTimestamp: $in.now,
  count: 1
};

# A status line when the wanted status is not already the site's.
def status_lines($in; $condition; $ready):
  desired_status($condition; $ready; $in.now) as $want
  | if (.status // {}) | covers($want) then
      empty
    else
      line("status"; [{
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: {name: .metadata.name, namespace: .metadata.namespace},
        status: $want
      }])
    end;

# A problem of the spec (InvalidSpec): the status, and the Warning event with the change of status only, so a
# repeated reconcile of the same spec writes nothing.
def invalid_spec_lines($in; $message; $ready):
  [status_lines($in; {status: "False", reason: INVALID_SPEC, message: $message}; $ready)] as $status
  | $status[], (if ($status | length) > 0 then line("event"; [event($in; "Warning"; INVALID_SPEC; $message)])
                else empty end);

# The objects the API server answered (the lookup's GETs, the applies).
def objects($documents): [$documents[]?];

# An object's resourceVersion as a number: those of one resource compare as integers (KEP-5504); -1 when
# it has none that is a number (never taken for the later one).
def resource_version: (.metadata.resourceVersion // "" | tonumber?) // -1;

# The cached child, or what the controller's own last apply of it returned (reconciler.sh keeps those
# answers, `last_applied`) when that is later: the cache lags behind the controller's writes, and a child
# judged on a cache that has not seen the last apply yet would look drifted and be applied again. SPEC.md
# judges drift on the later of the two, with no live GET. A child absent from the cache stays absent (null):
# only a live GET can tell whether it exists (the conflict check).
def fresher($in; $desired; $cached):
  if $cached == null then
    null
  else
    (first($in.last_applied[]? | select(.kind == $desired.kind and .metadata.name == $desired.metadata.name))
     // null) as $applied
    | if $applied != null and ($applied | resource_version) > ($cached | resource_version) then $applied
      else $cached
      end
  end;

# The actual object for a desired child: the live one when the lookup asked for it (the cache had none),
# else the cached one or the last apply's answer, whichever is later; null when absent.
def actual($in; $desired; $cached):
  ($desired | child_target) as $target
  | if ($in.looked_up | split(" ") | index([$target])) != null then
      first(objects($in.live)[] | select(.kind == $desired.kind and .metadata.name == $desired.metadata.name))
      // null
    else
      fresher($in; $desired; $cached)
    end;

# [{desired, actual}] for ConfigMap, Deployment, Service.
def child_pairs($in):
  desired_children($in.hash) as [$configmap, $deployment, $service]
  | [
      {desired: $configmap, actual: actual($in; $configmap; $in.configmap)},
      {desired: $deployment, actual: actual($in; $deployment; $in.deployment)},
      {desired: $service, actual: actual($in; $service; $in.service)}
    ];

# Steps 6 (the conflicts) and 7 (and 8 when nothing is applied).
def children_step($in):
  . as $site
  | child_pairs($in) as $pairs
  | ($pairs[1].actual | if . != null and controlled_by($site.metadata.uid) then . else null end) as $deployment
  | (first($pairs[] | select(.actual != null and (.actual | controlled_by($site.metadata.uid) | not))) // null)
    as $conflict
  | if $conflict != null then
      ($conflict.actual | {kind: $conflict.desired.kind, metadata: .metadata} | conflict_message) as $message
      # The event goes with the change of status, not with every retry.
      | [status_lines($in; {status: "False", reason: CHILD_CONFLICT, message: $message};
                      ready_replicas($deployment))] as $status
      | $status[],
        (if ($status | length) > 0 then line("event"; [event($in; "Warning"; CHILD_CONFLICT; $message)])
         else empty end),
        line("error"; [$message])
    else
      [$pairs[] | select(.desired as $desired | .actual | up_to_date($desired) | not) | .desired] as $stale
      | if ($stale | length) > 0 then
          ($stale[] | line("apply"; [child_target, .])),
          line("synced"; [event($in; "Normal"; SYNCED; "applied " + ([$stale[] | child_title] | join(", ")))]),
          line("restatus"; [])
        else
          status_lines($in; rollout_condition($deployment; site_replicas); ready_replicas($deployment))
        end
    end;

# Step 8 after an apply: the Deployment the apply returned is the freshest there is.
def status_step($in):
  . as $site
  | (first(objects($in.applied)[] | select(.kind == "Deployment"))
     // actual($in; desired_deployment($in.hash); $in.deployment)
     | if . != null and controlled_by($site.metadata.uid) then . else null end) as $deployment
  | status_lines($in; rollout_condition($deployment; site_replicas); ready_replicas($deployment));

# Step 5's other half: the registry's keys are exactly the namespace's sites (SPEC.md), so a key is stray
# when no cached site has its name, or when its name cannot be a site's key (no site with a name that is not
# a Service name ever gets one). A key whose site is being deleted is not stray: its finalizer removes it.
# A site created a moment ago is in the cache before its reconcile adds its key (the informer caches a site,
# then queues it), so a key of a live site is never taken for a stray by this process; a key written by
# another process from a fresher cache may be, until that site's own event here adds it back.
def stray_keys($in):
  if $in.registry.registered != null then
    [] # the informer's summary: every key names a cached site
  else
    (($in.sites // []) | INDEX(.)) as $sites
    | [($in.registry.data // {}) | keys[] | select((valid_service_name | not) or $sites[.] == null)]
  end;

# The registry maps the site's name to its URL. (The informer's summary, {registered}, says so itself.)
def registered($in):
  if $in.registry.registered != null then $in.registry.registered
  else $in.registry.data[.metadata.name] == url
  end;

# Step 2, a site being deleted (`.`): remove its registry key (a missing registry or key counts as removed),
# then its finalizer, carrying the resourceVersion; nothing when the finalizer is already gone.
def finalize_lines:
  # exercise: finalizer begin
  if has_finalizer then
    line("registry-remove"; [{data: {(.metadata.name): null}}]),
    line("finalizer-remove"; [{metadata: {
      finalizers: [(.metadata.finalizers // [])[] | select(. != FINALIZER)],
      resourceVersion: .metadata.resourceVersion
    }}])
  else
    empty
  end
  # exercise: finalizer end
  ;

# Steps 2 to 5, then 6 to 8 when every child is in the cache (else a lookup first).
def main_step($in):
  # 2. Being deleted: the registry key, then the finalizer.
  if .metadata.deletionTimestamp != null then
    finalize_lines
  else
    # 3. The finalizer, before anything that would need cleaning up.
    (if has_finalizer then empty else
      line("finalizer-add"; [{metadata: {
        finalizers: ((.metadata.finalizers // []) + [FINALIZER]),
        resourceVersion: .metadata.resourceVersion
      }}])
    end),
    # 4. What the schema cannot check (or what an older schema let in: the content size rule came later).
    if (.metadata.name | valid_service_name) | not then
      invalid_spec_lines($in; invalid_name_message; 0)
    elif content_size > CONFIGMAP_MAX_BYTES then
      invalid_spec_lines($in; too_large_message(content_size); 0)
    else
      # 5. The site's key, and no stray key.
      (stray_keys($in) as $stray
       | if $in.registry == null or (registered($in) | not) or ($stray | length) > 0 then
           line("registry-add"; [
             {data: ({(.metadata.name): url} + ($stray | map({(.): null}) | add // {}))},
             {
               apiVersion: "v1",
               kind: "ConfigMap",
               metadata: {name: REGISTRY, namespace: .metadata.namespace, labels: registry_labels},
               data: {(.metadata.name): url}
             },
             (if $in.registry == null then "create" else "patch" end)
           ])
         else
           empty
         end),
      # 6. Children absent from the cache are looked up live first (one the controller does not manage has
      # no managed-by label, so no informer caches it: only a GET sees a conflict). A cached child that
      # differs needs no GET: it is judged on the cache or the last apply (`actual`).
      ([child_pairs($in)[] | select(.actual == null) | .desired | child_target] | join(" ")) as $targets
      | if $targets != "" then line("lookup"; [$targets]) else children_step($in) end
    end
  end;

# Step 7 failed: if the API server refused a child as invalid (422), the spec asks for what cannot be, like an
# invalid name: InvalidSpec, and no retry (it would be refused the same). Anything else is an error.
def refused_step($in):
  . as $site
  | (first(desired_children($in.hash)[] | select(child_target == $in.refused.target)) // null) as $refused
  | if $refused == null then
      line("error"; ["applying the children: \($in.refused.target // "a child") was refused: \($in.refused.message)"])
    else
      (actual($in; desired_deployment($in.hash); $in.deployment)
       | if . != null and controlled_by($site.metadata.uid) then . else null end) as $deployment
      | invalid_spec_lines($in; $refused | refused_message($in.refused.message); ready_replicas($deployment))
    end;

def plan($in):
  $in.site
  | if . == null then empty
    elif $in.phase == "main" then main_step($in)
    elif $in.phase == "children" then children_step($in)
    elif $in.phase == "refused" then refused_step($in)
    else status_step($in)
    end;

# The planner: one long-lived jq per worker (reconciler.sh), so a reconcile starts no jq process. Each input
# is a request (the input object of `plan`, plus `id`, and for phase "main" `memo`, the content hash memo
# "UID GENERATION HASH"); each answer is `PLAN ID LENGTH\n` and LENGTH bytes of plan lines. When the memo
# is not this site's (a new site, a new spec), the plan is one line instead:
#   hash UID GENERATION BASE64   the bytes to hash (content_hash_input, NULs included), in base64: Bash
#                                hashes them with sha256sum, keeps the memo, and asks again
def planner:
  inputs
  | .id as $id
  | (.site.metadata | "\(.uid) \(.generation)") as $key
  | ([if .phase == "main" and .site != null and .site.metadata.deletionTimestamp == null
         and ((.memo // "") | split(" ")[0:2] | join(" ")) != $key then
        line("hash"; ["\($key) \(.site | [content_hash_input] | add // "" | @base64)"])
      else
        (if .phase == "main" then . + {hash: ((.memo // "") | split(" ")[2] // "")} else . end) as $in
        | try plan($in) catch line("error"; ["the plan failed: \(tostring)"])
      end]
     | map(. + "\n") | add // "") as $text
  | "PLAN \($id) \($text | utf8bytelength)\n\($text)";
