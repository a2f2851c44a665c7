# Framing of list pages and watch events for informer.sh: each object becomes a header line
#   TYPE VERSION NAMESPACE NAME OWNER LENGTH
# followed by LENGTH bytes of compact JSON (no newline), so Bash reads the header with `read` and the
# object with one `read -N LENGTH`, which reads in blocks (a line-wise `read` of a pipe reads byte by byte).
#
# Every field of an object is data, never syntax: a header holds only words checked or encoded here, so no
# name, however hostile (spaces, newlines, "../", quotes, "$(...)"), can split a header, forge a record or
# become a path. The API server checks an ownerReference's name for nothing but being non-empty.
#   VERSION    the resourceVersion, URI-encoded (@uri): one word, and what a URL wants; "-" when empty
#   NAMESPACE  a DNS-1123 label, NAME a DNS-1123 subdomain (what the API server allows; the cache path is
#              built from them); an object with other ones is not framed, only skipped (SKIP)
#   OWNER      the work-queue key the object triggers, "-" for none, "!" for an object controlled by a
#              "StaticSite" whose name no StaticSite can have: it cannot be a site's child (ignored)
# Other lines:
#   BOOKMARK VERSION
#   ERROR CODE MESSAGE...              (CODE a number; MESSAGE on one line, the rest of it)
#   LIST VERSION CONTINUE-TOKEN        after the items of a list page (@uri; `-` for no token)
#   SKIP VERSION                       an object that cannot be cached (its namespace or name is invalid)
#   REGISTRY NAMESPACE STATE LENGTH    after the record of the registry ConfigMap (SPEC.md, "Finalizer and
#                                      registry"), then LENGTH bytes: its keys that map to their site's URL,
#                                      space-separated; STATE: `only` when it has no other key, `other`
#                                      when it has (informer.sh queues the sites whose key is missing or
#                                      wrong, or all of them; it sees a deleted registry itself)
#
# Regular expressions are anchored with \A and \z: in jq (Oniguruma), `$` also matches before a final
# newline, so "name\n" would pass a `^...$` test.

include "site";

def DNS1123_LABEL: "\\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\\z";
def DNS1123_SUBDOMAIN: "\\A[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\z";
def SERVICE_NAME: "\\A[a-z]([-a-z0-9]*[a-z0-9])?\\z";

def is_label: type == "string" and length <= 63 and test(DNS1123_LABEL);
def is_subdomain: type == "string" and length <= 253 and test(DNS1123_SUBDOMAIN);
def is_service_name: type == "string" and length <= 63 and test(SERVICE_NAME);

# A resourceVersion or continue token as one safe word.
def word: if . == null or . == "" then "-" else tostring | @uri end;

# The key of the site an object belongs to: the site itself, or a child's controller owner if that owner is
# a StaticSite; "!" when that owner's name cannot be a StaticSite's.
def owner_key($resource):
  if $resource == "staticsites" then
    "\(.metadata.namespace)/\(.metadata.name)"
  else
    (first(.metadata.ownerReferences[]?
       | select(.controller == true and .kind == KIND and (.apiVersion | strings | startswith("\(GROUP)/"))))
     // null) as $owner
    | if $owner == null then "-"
      elif $owner.name | is_subdomain then "\(.metadata.namespace)/\($owner.name)"
      else "!"
      end
  end;

def is_registry($resource):
  $resource == "configmaps" and .metadata.name == REGISTRY and owner_key($resource) == "-";

# The registry's summary line: the keys that map to their site's URL (Service names: safe words).
def registry_line:
  .metadata.namespace as $namespace
  | ((.data // {}) | to_entries) as $entries
  | [$entries[] | select((.key | is_service_name) and .value == site_url(.key; $namespace))
     | .key] as $good
  | ($good | join(" ")) as $text
  | "REGISTRY \($namespace) \(if ($good | length) == ($entries | length) then "only" else "other" end)"
    + " \($text | utf8bytelength)\n\($text)";

# The cache keeps objects without their managedFields (the largest part, and never read).
def record($type; $resource):
  if (.metadata.namespace | is_label) and (.metadata.name | is_subdomain) then
    (del(.metadata.managedFields) | tojson) as $json
    | "\($type) \(.metadata.resourceVersion | word) \(.metadata.namespace) \(.metadata.name)"
      + " \(owner_key($resource)) \($json | utf8bytelength)\n\($json)"
      + if $type != "DELETED" and is_registry($resource) then registry_line else "" end
  else
    "SKIP \(.metadata.resourceVersion | word)\n"
  end;

# One list page (a List) -> ITEM records, then the LIST line.
def list_records($resource):
  (.items[] | record("ITEM"; $resource)),
  "LIST \(.metadata.resourceVersion | word) \(.metadata.continue | word)\n";

# An ERROR record from a Status object.
def error_record: "ERROR \(.code | if type == "number" then floor else 0 end)"
  + " \(.message // "" | tostring | gsub("[[:cntrl:]]"; " "))\n";

# One watch event -> its record (an event of an unknown type -> nothing). A watch the API server refused
# (410 Gone for an expired resourceVersion, 403, ...) answers one Status object instead of events: an ERROR
# record too.
def watch_record($resource):
  if .kind == "Status" and .type == null then
    error_record
  elif .type == "ERROR" then
    .object | error_record
  elif .type == "BOOKMARK" then
    "BOOKMARK \(.object.metadata.resourceVersion | word)\n"
  elif .type == "ADDED" or .type == "MODIFIED" or .type == "DELETED" then
    .type as $type | .object | record($type; $resource)
  else
    empty
  end;
