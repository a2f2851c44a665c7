# shellcheck shell=bash
# The children of a site, as Bash functions around children.jq (the reconcile itself asks reconciler.jq for
# its whole plan at once; these are the same rules, one at a time, for tests and for a reader).

# advanced_jq ARGS...: jq with this directory's modules on its library path.
advanced_jq() {
  jq -L "$ADVANCED_DIR" "$@"
}

# content_hash SITE_FILE: the site's content hash (SPEC.md), lowercase hex, in REPLY.
content_hash() {
  local sum
  # shellcheck disable=SC2016 # a jq program
  sum=$(advanced_jq -j 'include "children"; content_hash_input' "$1" | sha256sum) || return 1
  REPLY=${sum%% *}
}

# render_children SITE_FILE HASH: the three desired children, one compact JSON object a line.
render_children() {
  # shellcheck disable=SC2016 # a jq program
  advanced_jq -c --arg hash "$2" 'include "children"; desired_children($hash)[]' "$1"
}

# child_up_to_date ACTUAL_FILE DESIRED_JSON: true when no write is needed.
child_up_to_date() {
  # shellcheck disable=SC2016 # a jq program
  advanced_jq -e --argjson desired "$2" 'include "children"; up_to_date($desired)' "$1" >/dev/null
}
