# Framing of list pages and watch events for informer.sh: each object becomes a header line
#   TYPE RESOURCEVERSION NAMESPACE NAME OWNER-KEY LENGTH
# followed by LENGTH bytes of compact JSON (no newline), so Bash reads the header with `read` and the
# object with one `read -N LENGTH`, which reads in blocks (a line-wise `read` of a pipe reads byte by byte).
# OWNER-KEY is the work-queue key the object triggers, `-` for none. Other lines:
#   BOOKMARK RESOURCEVERSION
#   ERROR CODE MESSAGE...
#   LIST RESOURCEVERSION CONTINUE-TOKEN   (after the items of a list page; `-` for no token)

# The key of the site an object belongs to: the site itself, or a child's controller owner if that owner is
# a StaticSite.
def owner_key($resource):
  if $resource == "staticsites" then
    "\(.metadata.namespace)/\(.metadata.name)"
  else
    (first(.metadata.ownerReferences[]?
       | select(.controller == true and .kind == "StaticSite" and (.apiVersion | startswith("sites.example.com/"))))
     // null) as $owner
    | if $owner == null then "-" else "\(.metadata.namespace)/\($owner.name)" end
  end;

# The cache keeps objects without their managedFields (the largest part, and never read).
def record($type; $resource):
  (del(.metadata.managedFields) | tojson) as $json
  | "\($type) \(.metadata.resourceVersion) \(.metadata.namespace) \(.metadata.name) \(owner_key($resource))"
    + " \($json | utf8bytelength)\n\($json)";

# One list page (a List) -> ITEM records, then the LIST line.
def list_records($resource):
  (.items[] | record("ITEM"; $resource)),
  "LIST \(.metadata.resourceVersion) \(.metadata.continue // "" | if . == "" then "-" else . end)\n";

# One watch event -> its record.
def watch_record($resource):
  if .type == "ERROR" then
    "ERROR \(.object.code // 0) \(.object.message // "" | gsub("[\n\t]"; " "))\n"
  elif .type == "BOOKMARK" then
    "BOOKMARK \(.object.metadata.resourceVersion)\n"
  else
    .type as $type | .object | record($type; $resource)
  end;
