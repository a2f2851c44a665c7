# The site's status (SPEC.md, "Status"): the Ready condition's reasons and exact messages, and the
# lastTransitionTime rule. `.` is the site unless a definition says otherwise.

include "site";

def DNS1035_LABEL: "^[a-z]([-a-z0-9]*[a-z0-9])?$";

# A site name that can also be a Service name.
def valid_service_name: (length <= 63) and test(DNS1035_LABEL);

def invalid_name_message:
  "name \(.metadata.name) cannot be a Service name: it must be a DNS-1035 label (lowercase letters, digits"
  + " and '-', starting with a letter, at most 63 characters)";

def too_large_message($size):
  "content is \($size) bytes: a ConfigMap holds at most 1048576 bytes (1 MiB) of file names and bodies";

# `child | refused_message($message)`: a child the API server refused as invalid (422), with the message of
# its Status (`KIND "NAME" is invalid: CAUSE`, or `[CAUSE, CAUSE]`).
def refused_message($message): "\(.kind) \(.metadata.name) cannot be written: \($message)";

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
      {status: "True", reason: AVAILABLE, message: "\($r)/\($n) replicas ready"}
    else
      {status: "False", reason: PROGRESSING, message: "\($r)/\($n) replicas ready"}
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
  url: site_url(.metadata.name; .metadata.namespace),
  conditions: [{
    type: "Ready",
    status: $condition.status,
    reason: $condition.reason,
    message: $condition.message,
    observedGeneration: .metadata.generation,
    lastTransitionTime: transition_time(ready_condition; $condition.status; $now)
  }]
};
