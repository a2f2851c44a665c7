# shellcheck shell=bash source-path=SCRIPTDIR
# Shared set-up of the advanced track's bats tests: the controller's functions, without running it.

setup_advanced() {
  export LC_ALL=C
  ADVANCED_DIR=$(cd "$BATS_TEST_DIRNAME/../advanced" && pwd)
  # shellcheck source=../advanced/util.sh
  source "$ADVANCED_DIR/util.sh"
  # shellcheck source=../advanced/site.sh
  source "$ADVANCED_DIR/site.sh"
  # shellcheck source=../advanced/api.sh
  source "$ADVANCED_DIR/api.sh"
  # shellcheck source=../advanced/children.sh
  source "$ADVANCED_DIR/children.sh"
  # shellcheck source=../advanced/status.sh
  source "$ADVANCED_DIR/status.sh"
  # shellcheck source=../advanced/queue.sh
  source "$ADVANCED_DIR/queue.sh"
  # shellcheck source=../advanced/informer.sh
  source "$ADVANCED_DIR/informer.sh"
  # shellcheck source=../advanced/registry.sh
  source "$ADVANCED_DIR/registry.sh"
  # shellcheck source=../advanced/events.sh
  source "$ADVANCED_DIR/events.sh"
  # shellcheck source=../advanced/reconciler.sh
  source "$ADVANCED_DIR/reconciler.sh"
  # shellcheck source=../advanced/leader.sh
  source "$ADVANCED_DIR/leader.sh"
  # shellcheck source=../advanced/options.sh
  source "$ADVANCED_DIR/options.sh"
  # shellcheck source=../advanced/endpoints.sh
  source "$ADVANCED_DIR/endpoints.sh"
  # shellcheck source=../advanced/manager.sh
  source "$ADVANCED_DIR/manager.sh"
  RUN=$BATS_TEST_TMPDIR/run
  mkdir -p "$RUN/state" "$RUN/cache"
}

# start_fake_proxy: stubs/fake-api-proxy on $RUN/api.sock, as API_SOCKET (what api_proxy_start sets), answering
# from $FAKE/routes (route METHOD PATH-PART STATUS FILE adds a rule) and logging to $FAKE/calls. Waits, with a
# deadline, until it listens; stop_fake_proxy ends it.
start_fake_proxy() {
  export FAKE=$BATS_TEST_TMPDIR/fake
  mkdir -p "$FAKE"
  API_SOCKET=$RUN/api.sock
  "$BATS_TEST_DIRNAME/stubs/fake-api-proxy" "$API_SOCKET" 3>&- &
  FAKE_PROXY_PID=$!
  local deadline=$((EPOCHSECONDS + 10))
  until [[ -S $API_SOCKET ]]; do
    ((EPOCHSECONDS < deadline)) || return 1
    sleep 0.05
  done
}

stop_fake_proxy() {
  if [[ -n ${FAKE_PROXY_PID:-} ]]; then kill "$FAKE_PROXY_PID" 2>/dev/null || true; fi
}

# route METHOD PATH-PART STATUS [FILE]: how the fake proxy answers (see stubs/fake-api-proxy); the first rule
# that matches wins, so a test puts the specific rules first.
route() {
  printf '%s %s %s %s\n' "$1" "$2" "$3" "${4:--}" >>"$FAKE/routes"
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
