# The site's status (SPEC.md, "Status"): the Ready condition's reasons and exact messages, and the
# lastTransitionTime rule. `.` is the site unless a definition says otherwise.

def DNS1035_LABEL: "^[a-z]([-a-z0-9]*[a-z0-9])?$";

# A site name that can also be a Service name.
def valid_service_name: (length <= 63) and test(DNS1035_LABEL);

def invalid_name_message:
  "name \(.metadata.name) cannot be a Service name: it must be a DNS-1035 label (lowercase letters, digits"
  + " and '-', starting with a letter, at most 63 characters)";

def too_large_message($size):
  "content is \($size) bytes: a ConfigMap holds at most 1048576 bytes (1 MiB) of file names and bodies";

# kubectl's report of a child the API server refused as invalid (422), as {kind, name, reason}; null when
# its stderr ($text) holds none. kubectl prints the Status as `The KIND "NAME" is invalid: CAUSE`, or with
# several causes `The KIND "NAME" is invalid: ` and a `* CAUSE` line each; the API server's own message
# (what the other languages report) is `KIND "NAME" is invalid: CAUSE`, or `[CAUSE, CAUSE]`.
def refused_child($text):
  ($text | split("\n")) as $lines
  | first($lines[]
      | capture("^The (?<kind>ConfigMap|Deployment|Service) \"(?<name>[^\"]+)\" is invalid: ?(?<cause>.*)$"))
  | if .cause != "" then . else
      [$lines[] | select(startswith("* ")) | .[2:]] as $causes
      | .cause = (if ($causes | length) == 1 then $causes[0] else "[\($causes | join(", "))]" end)
    end
  // null;

# `refused | refused_message` (refused: what refused_child found)
def refused_message: "\(.kind) \(.name) cannot be written: \(.kind) \"\(.name)\" is invalid: \(.cause)";

# `child | conflict_message`
def conflict_message: "\(.kind) \(.metadata.name) exists and is not controlled by this StaticSite";

# `deployment | rolled_out(N)`: the Deployment controller has seen the latest spec and every replica is
# updated and ready.
def rolled_out($n):
  (.status.observedGeneration // 0) >= (.metadata.generation // 0)
  and (.status.replicas // 0) == $n
  and (.status.updatedReplicas // 0) == $n
  and (.status.readyReplicas // 0) == $n;

def ready_replicas($deployment): $deployment.status.readyReplicas // 0;

# The Ready condition's status, reason and message from the Deployment (null: none yet).
def rollout_condition($deployment; $n):
  ready_replicas($deployment) as $r
  | if $deployment != null and ($deployment | rolled_out($n)) then
      {status: "True", reason: "Available", message: "\($r)/\($n) replicas ready"}
    else
      {status: "False", reason: "Progressing", message: "\($r)/\($n) replicas ready"}
    end;

def ready_condition: first((.status.conditions // [])[] | select(.type == "Ready")) // null;

# lastTransitionTime is set when the condition first appears and changes only when its status changes.
def transition_time($old; $status; $now):
  if $old != null and $old.status == $status and $old.lastTransitionTime != null
  then $old.lastTransitionTime
  else $now
  end;

# The whole status the site should have, given the condition ({status, reason, message}), the ready
# replica count and the time now (RFC 3339, UTC).
def desired_status($condition; $ready; $now): {
  observedGeneration: .metadata.generation,
  readyReplicas: $ready,
  url: "http://\(.metadata.name).\(.metadata.namespace).svc.cluster.local",
  conditions: [{
    type: "Ready",
    status: $condition.status,
    reason: $condition.reason,
    message: $condition.message,
    observedGeneration: .metadata.generation,
    lastTransitionTime: transition_time(ready_condition; $condition.status; $now)
  }]
};
