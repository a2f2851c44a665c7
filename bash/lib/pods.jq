# jq definitions shared by list-pods and watch-pods. pods.sh loads them with
#   jq -L bash/lib 'include "pods"; FILTER'
# Written for jq 1.6 (what Debian ships): no jq 1.7-only builtins.

# ----- list-pods --------------------------------------------------------------------

# The contract's record of one pod (CONTRACT.md, "-o json"), keys in the contract's order.
# Init containers are in .spec.initContainers and .status.initContainerStatuses, which we never read:
# that is what keeps them out of "ready", "restarts" and "containers".
def pod_record:
  {
    namespace: .metadata.namespace,
    name: .metadata.name,
    phase: (.status.phase // ""),
    node: (.spec.nodeName // ""),
    ready: "\([.status.containerStatuses[]? | select(.ready == true)] | length)/\(.spec.containers | length)",
    restarts: ([.status.containerStatuses[]?.restartCount // 0] | add // 0),
    containers: [.spec.containers[]?.name],
    images: [.spec.containers[]?.image]
  };

# What list-pods keeps of each pod while it pages through the list: the record, plus the creation time that
# the table's AGE column needs (dropped again for -o json).
def list_entry: pod_record + {created: .metadata.creationTimestamp};

# kubectl's HumanDuration (k8s.io/apimachinery/pkg/util/duration) of a number of seconds:
# "45s", "3m20s", "15m", "5h2m", "20h", "2d3h", "30d", "3y20d", "10y".
def human_duration:
  def with_rest($unit; $rest): if $rest == 0 then "" else "\($rest)\($unit)" end;
  floor
  | if . < -1 then "<invalid>"   # a clock more than a second behind the server's
    elif . < 0 then "0s"
    elif . < 120 then "\(.)s"
    else
      (. / 60 | floor) as $minutes
      | (. / 3600 | floor) as $hours
      | ($hours / 24 | floor) as $days
      | ($days / 365 | floor) as $years
      | if $minutes < 10 then "\($minutes)m" + with_rest("s"; . % 60)
        elif $minutes < 180 then "\($minutes)m"
        elif $hours < 8 then "\($hours)h" + with_rest("m"; $minutes % 60)
        elif $hours < 48 then "\($hours)h"
        elif $hours < 24 * 8 then "\($days)d" + with_rest("h"; $hours % 24)
        elif $hours < 24 * 365 * 2 then "\($days)d"
        elif $hours < 24 * 365 * 8 then "\($years)y" + with_rest("d"; $days % 365)
        else "\($years)y"
        end
    end;

# The AGE cell of a creationTimestamp (.), $now being the current Unix time.
def age($now): if . == null then "<unknown>" else $now - fromdateiso8601 | human_duration end;

# Rows (arrays of strings, the first one the header) as kubectl prints them: left-aligned columns, each as wide
# as its widest cell, separated by three spaces; the last column is not padded.
def table:
  def pad($width): if length < $width then . + " " * ($width - length) else . end;
  . as $rows
  | [range(0; $rows[0] | length) as $column | [$rows[][$column] | length] | max] as $widths
  | $rows[]
  | . as $row
  | [range(0; length - 1) as $column | $row[$column] | pad($widths[$column])] + [$row[-1]]
  | join("   ");

# The list-pods table of the list entries (.), with a NAMESPACE column when listing every namespace.
def pods_table($now; $all_namespaces):
  def namespace_column(cell): if $all_namespaces then cell else empty end;
  [namespace_column("NAMESPACE"), "NAME", "READY", "STATUS", "RESTARTS", "NODE", "AGE"] as $header
  | [.[] | [namespace_column(.namespace), .name, .ready, .phase, (.restarts | tostring),
            (if .node == "" then "<none>" else .node end), (.created | age($now))]]
  | [$header] + .
  | table;

# ----- watch-pods -------------------------------------------------------------------
# watch-pods reads pods and events in Bash as lines of fields separated by the unit separator (U+001F). Each
# text field is JSON-encoded ("Running", with its quotes): then no value, whatever it contains, can break a line
# or a field, the JSON output reuses the fields as they are, and the table shows them without the quotes.

def encoded_pod_fields:
  [.metadata.namespace, .metadata.name, (.status.phase? // ""), .metadata.resourceVersion]
  | map(. // "" | tojson);

# One listed pod: "NAMESPACE␟NAME␟PHASE␟RESOURCEVERSION".
def watch_entry: encoded_pod_fields | join("\u001f");

# One watch event: "TYPE␟NAMESPACE␟NAME␟PHASE␟RESOURCEVERSION␟CODE". CODE is the HTTP status of an ERROR event
# (its object is a Status, whose .status is a string: hence the "?" above), 0 for the others.
def event_line:
  [.type] + (.object | encoded_pod_fields) + [.object.code // 0 | tostring]
  | join("\u001f");

# ----- the API ----------------------------------------------------------------------

# The API path of the pods of $namespace ("" for every namespace), with the query parameters "key=value" given
# as input (.) that have a value, URL-encoded.
def pods_url($namespace):
  (if $namespace == "" then "/api/v1/pods" else "/api/v1/namespaces/\($namespace | @uri)/pods" end)
  + "?"
  + ([.[] | index("=") as $eq | [.[:$eq], .[$eq + 1:]] | select(.[1] != "") | "\(.[0])=\(.[1] | @uri)"]
     | join("&"));
