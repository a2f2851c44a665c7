# The StaticSite API as the controller sees it (Python: site.py, Go: site.go): the names every jq program
# of the controller uses, included with `include "site";` (jq -L bash/advanced). site.sh holds the shell's
# twins of the names Bash needs.

def GROUP: "sites.example.com";
def API_VERSION: "\(GROUP)/v1alpha1";
def KIND: "StaticSite";
def FINALIZER: "sites.example.com/registry";
# The field manager of every write, the managed-by label of every child, the events' source component.
def MANAGER: "staticsite-controller";
def REGISTRY: "staticsite-registry";
def HASH_ANNOTATION: "sites.example.com/content-hash";

# The labels every child carries, the subset that selects the pods, and the registry's.
def selector_labels($site_name): {"app.kubernetes.io/name": "staticsite", "app.kubernetes.io/instance": $site_name};
def child_labels($site_name): selector_labels($site_name) + {"app.kubernetes.io/managed-by": MANAGER};
def registry_labels: {"app.kubernetes.io/name": "staticsite", "app.kubernetes.io/managed-by": MANAGER};

# The Ready condition's reasons, and the events' (SPEC.md, "Status" and "Events").
def AVAILABLE: "Available";
def PROGRESSING: "Progressing";
def CHILD_CONFLICT: "ChildConflict";
def INVALID_SPEC: "InvalidSpec";
def SYNCED: "Synced";

# The URL rule: the site's Service inside the cluster (the status's url, the registry's value).
def site_url($name; $namespace): "http://\($name).\($namespace).svc.cluster.local";
