# shellcheck shell=bash
# The status of a site, as a Bash function around status.jq (the reconcile asks reconciler.jq for its whole
# plan at once; this is the same rule on its own, for tests and for a reader). Needs children.sh.

# site_status SITE_FILE DEPLOYMENT_FILE NOW: the status the site should have after its children were
# written, given its Deployment (an empty file: none), compact JSON.
site_status() {
  # shellcheck disable=SC2016 # a jq program
  advanced_jq -c --slurpfile deployment "$2" --arg now "$3" \
    'include "children"; include "status";
     ($deployment[0] // null) as $d
     | desired_status(rollout_condition($d; site_replicas); ready_replicas($d); $now)' "$1"
}
