# shellcheck shell=bash source-path=SCRIPTDIR
# Shared set-up of the advanced track's bats tests: the controller's functions, without running it.

setup_advanced() {
  export LC_ALL=C
  ADVANCED_DIR=$(cd "$BATS_TEST_DIRNAME/../advanced" && pwd)
  # shellcheck source=../advanced/util.sh
  source "$ADVANCED_DIR/util.sh"
  # shellcheck source=../advanced/children.sh
  source "$ADVANCED_DIR/children.sh"
  # shellcheck source=../advanced/status.sh
  source "$ADVANCED_DIR/status.sh"
  # shellcheck source=../advanced/metrics.sh
  source "$ADVANCED_DIR/metrics.sh"
  # shellcheck source=../advanced/queue.sh
  source "$ADVANCED_DIR/queue.sh"
  # shellcheck source=../advanced/informer.sh
  source "$ADVANCED_DIR/informer.sh"
  # shellcheck source=../advanced/reconciler.sh
  source "$ADVANCED_DIR/reconciler.sh"
  # shellcheck source=../advanced/manager.sh
  source "$ADVANCED_DIR/manager.sh"
  RUN=$BATS_TEST_TMPDIR/run
  mkdir -p "$RUN/state" "$RUN/cache"
}

# site NAME [JQ_FILTER]: a StaticSite as the API server returns it, changed by JQ_FILTER.
site() {
  jq -nc --arg name "$1" '{
    apiVersion: "sites.example.com/v1alpha1", kind: "StaticSite",
    metadata: {name: $name, namespace: "demo", uid: "uid-1", generation: 3, resourceVersion: "100"},
    spec: {replicas: 2, image: "nginx:1.27.3", content: {"index.html": "<h1>hi</h1>"}}
  }' | jq -c "${2:-.}"
}

# deployment_status GENERATION OBSERVED REPLICAS UPDATED READY: a Deployment with that status.
deployment_status() {
  jq -nc --argjson g "$1" --argjson o "$2" --argjson r "$3" --argjson u "$4" --argjson y "$5" '{
    kind: "Deployment", metadata: {name: "hello", generation: $g},
    status: {observedGeneration: $o, replicas: $r, updatedReplicas: $u, readyReplicas: $y}
  }'
}
