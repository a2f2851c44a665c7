# Shared set-up for the Bash track's bats tests: the libraries, sourced the way the scripts source them.

bats_require_minimum_version 1.5.0

BASH_TRACK=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# shellcheck disable=SC2034 # used by the .bats files
FIXTURES=$BATS_TEST_DIRNAME/fixtures

load_libs() {
  local lib
  for lib in args errors pods kube watch; do
    # shellcheck source=/dev/null
    source "$BASH_TRACK/lib/$lib.sh"
  done
}

# ----- end-to-end tests with a stand-in kubectl (stubs/kubectl) ------------------------------------------

# use_stub_kubectl: puts stubs/kubectl first on PATH, answering from STUB_DIR; the context's namespace is "demo".
use_stub_kubectl() {
  export STUB_DIR=$BATS_TEST_TMPDIR/stub
  mkdir -p "$STUB_DIR"
  export PATH=$BATS_TEST_DIRNAME/stubs:$PATH
  echo demo >"$STUB_DIR/namespace"
}

# pod NAMESPACE NAME PHASE RESOURCEVERSION: a minimal pod object, compact JSON.
pod() {
  jq -cn --arg namespace "$1" --arg name "$2" --arg phase "$3" --arg rv "$4" '{
    metadata: {namespace: $namespace, name: $name, resourceVersion: $rv, creationTimestamp: "2024-05-01T10:00:00Z"},
    spec: {nodeName: "node-1", containers: [{name: "app", image: "app:1"}]},
    status: {phase: $phase, containerStatuses: [{name: "app", ready: true, restartCount: 0}]}
  }'
}

# list_response N RESOURCEVERSION CONTINUE POD...: the stub's Nth list answer, a page of pods.
list_response() {
  jq -cn --arg rv "$2" --arg continue "$3" --args \
    '{kind: "PodList", metadata: {resourceVersion: $rv, continue: $continue}, items: [$ARGS.positional[] | fromjson]}' \
    "${@:4}" >"$STUB_DIR/list.$1.out"
}

# event TYPE POD: one watch event, compact JSON.
event() {
  jq -cn --arg type "$1" --argjson object "$2" '{type: $type, object: $object}'
}

# watch_response N EVENT...: the stub's Nth watch answer, a stream of events that then ends.
watch_response() {
  printf '%s\n' "${@:2}" >"$STUB_DIR/watch.$1.out"
}

# failed_response KIND N STDERR: the stub's Nth KIND (list or watch) answer fails with STDERR.
failed_response() {
  echo "$3" >"$STUB_DIR/$1.$2.err"
  echo 1 >"$STUB_DIR/$1.$2.rc"
}

# requests: the API paths the stub was asked for, one per line.
requests() {
  cat "$STUB_DIR/requests"
}
