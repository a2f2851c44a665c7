# The three children of a StaticSite (SPEC.md, "Children"), and how an actual object is compared with the
# desired one. Every definition here takes the site as `.` unless it says otherwise. Used through
# `jq -L bash/advanced 'include "children"; ...'` by children.sh and reconciler.jq.

include "site";

def owner_reference: {
  apiVersion: API_VERSION,
  kind: KIND,
  name: .metadata.name,
  uid: .metadata.uid,
  controller: true,
  blockOwnerDeletion: true
};

def child_metadata($child_name): {
  name: $child_name,
  namespace: .metadata.namespace,
  labels: child_labels(.metadata.name),
  ownerReferences: [owner_reference]
};

def content_name: "\(.metadata.name)-content";

# The most a ConfigMap holds: its keys and values together, in UTF-8 bytes (the API server's limit, 1 MiB).
def CONFIGMAP_MAX_BYTES: 1048576;

# The bytes the content takes in a ConfigMap: every name and body, in UTF-8 (what the API server counts).
def content_size: [.spec.content | to_entries[] | (.key | utf8bytelength) + (.value | utf8bytelength)] | add // 0;
# What the schema defaults, in case an object predates the defaults.
def site_replicas: .spec.replicas // 1;
def site_image: .spec.image // "nginx:1.27.3";

# The bytes of the content hash: name NUL body NUL ... in byte order of the names. Print them with `jq -j`
# (jq 1.6 writes the NUL bytes of raw strings as they are) and pipe them into sha256sum.
def content_hash_input:
  .spec.content | to_entries | sort_by(.key) | .[] | (.key, "\u0000", .value, "\u0000");

def desired_configmap: {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: child_metadata(content_name),
  data: .spec.content
};

def desired_deployment($hash): {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: child_metadata(.metadata.name),
  spec: {
    replicas: site_replicas,
    selector: {matchLabels: selector_labels(.metadata.name)},
    template: {
      metadata: {
        labels: child_labels(.metadata.name),
        annotations: {(HASH_ANNOTATION): $hash}
      },
      spec: {
        containers: [{
          name: "web",
          image: site_image,
          ports: [{name: "http", containerPort: 80, protocol: "TCP"}],
          volumeMounts: [{name: "content", mountPath: "/usr/share/nginx/html", readOnly: true}]
        }],
        volumes: [{name: "content", configMap: {name: content_name}}]
      }
    }
  }
};

def desired_service: {
  apiVersion: "v1",
  kind: "Service",
  metadata: child_metadata(.metadata.name),
  spec: {
    type: "ClusterIP",
    selector: selector_labels(.metadata.name),
    ports: [{name: "http", port: 80, targetPort: 80, protocol: "TCP"}]
  }
};

# The children in the SPEC's order: ConfigMap, Deployment, Service.
def desired_children($hash): [desired_configmap, desired_deployment($hash), desired_service];

# `actual | covers(desired)`: every field of desired is present and equal in actual; actual may have more
# (the API server's defaults, other managers' fields). A list is covered when each desired item is covered
# by some actual item: the lists the controller sets (containers, ports, volumes, ownerReferences) are
# keyed lists to server-side apply, where others may add items.
def covers($desired):
  . as $actual
  | if ($desired | type) == "object" then
      ($actual | type) == "object"
      and ([$desired | keys_unsorted[] as $k | ($actual | has($k)) and ($actual[$k] | covers($desired[$k]))] | all)
    elif ($desired | type) == "array" then
      ($actual | type) == "array"
      and ([$desired[] as $item | [$actual[] | covers($item)] | any] | all)
    else
      $actual == $desired
    end;

# `actual | up_to_date(desired)`: no write is needed. The fields the controller sets are the labels, the
# ownerReferences and the spec (or data); apiVersion and kind are left out (list items carry neither).
# A ConfigMap's data must be equal, not merely covered: a file removed from spec.content must go.
def up_to_date($desired):
  # exercise: compare-before-write begin
  . != null
  and covers({metadata: {labels: $desired.metadata.labels, ownerReferences: $desired.metadata.ownerReferences}})
  and (if $desired.kind == "ConfigMap" then (.data // {}) == $desired.data else covers({spec: $desired.spec}) end)
  # exercise: compare-before-write end
  ;

# `object | controlled_by(uid)`: has a controller ownerReference to that uid.
def controlled_by($uid):
  # exercise: conflict begin
  any(.metadata.ownerReferences[]?; .controller == true and .uid == $uid)
  # exercise: conflict end
  ;

# "ConfigMap hello-content", as messages name a child.
def child_title: "\(.kind) \(.metadata.name)";

# RESOURCE/NAME, how api.sh names the child: configmaps/hello-content, deployments/hello, services/hello.
def child_target:
  {ConfigMap: "configmaps", Deployment: "deployments", Service: "services"}[.kind] + "/\(.metadata.name)";
