#!/usr/bin/env bats
# Error mapping (lib/errors.sh), on stderr that kubectl v1.36 really prints.

setup() {
  load test_helper
  load_libs
}

# error_for VERB TEXT, EXPECTED_KIND, EXPECTED_LINE: checks kubectl_error_kind and kubectl_error_line.
error_for() {
  local verb=$1 text=$2 kind=$3 line=$4
  run kubectl_error_kind "$text"
  [ "$output" = "$kind" ] || {
    echo "kind: $output, want $kind"
    return 1
  }
  run kubectl_error_line "$verb" "$text"
  [ "$output" = "$line" ] || {
    echo "line: $output"
    echo "want: $line"
    return 1
  }
}

@test "kubeconfig: a file that is not YAML" {
  error_for list 'error: error loading config file "/tmp/bad": yaml: line 1: did not find expected node content' \
    kubeconfig 'error: invalid kubeconfig: error loading config file "/tmp/bad": yaml: line 1: did not find expected node content'
}

@test "kubeconfig: a context that does not exist" {
  error_for list 'error: context "nope" does not exist' kubeconfig 'error: invalid kubeconfig: context "nope" does not exist'
  error_for list 'error: context was not found for specified context: nope' \
    kubeconfig 'error: invalid kubeconfig: context was not found for specified context: nope'
}

@test "kubeconfig: a certificate file that is missing is a configuration problem, not TLS" {
  error_for list 'error: invalid configuration: unable to read certificate-authority /x/ca.crt for local due to open /x/ca.crt: no such file or directory' \
    kubeconfig 'error: invalid kubeconfig: invalid configuration: unable to read certificate-authority /x/ca.crt for local due to open /x/ca.crt: no such file or directory'
}

@test "unreachable: connection refused" {
  error_for list 'The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?' \
    unreachable 'error: cannot reach the API server: The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?'
}

@test "unreachable: no such host, i/o timeout" {
  error_for list 'Unable to connect to the server: dial tcp: lookup nope.invalid on 127.0.0.53:53: no such host' \
    unreachable 'error: cannot reach the API server: dial tcp: lookup nope.invalid on 127.0.0.53:53: no such host'
  error_for list 'Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout' \
    unreachable 'error: cannot reach the API server: dial tcp 10.0.0.1:443: i/o timeout'
  error_for list 'Unable to connect to the server: net/http: TLS handshake timeout' \
    unreachable 'error: cannot reach the API server: net/http: TLS handshake timeout'
}

@test "unreachable: our request timeout ran out" {
  error_for list 'Unable to connect to the server: context deadline exceeded (Client.Timeout exceeded while awaiting headers)' \
    unreachable 'error: cannot reach the API server: context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
  error_for list 'error: net/http: request canceled (Client.Timeout exceeded while reading body)' \
    unreachable 'error: cannot reach the API server: net/http: request canceled (Client.Timeout exceeded while reading body)'
}

@test "TLS: an unknown certificate authority" {
  error_for list 'Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority' \
    tls 'error: TLS verification failed: tls: failed to verify certificate: x509: certificate signed by unknown authority'
}

@test "401" {
  error_for list 'error: You must be logged in to the server (Unauthorized)' \
    401 'error: 401 Unauthorized: You must be logged in to the server (Unauthorized)'
}

@test "403 names the verb and the resource" {
  local text='Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:ns:nobody" cannot watch resource "pods" in API group "" in the namespace "ns"'
  error_for watch "$text" 403 \
    'error: 403 Forbidden: cannot watch pods: pods is forbidden: User "system:serviceaccount:ns:nobody" cannot watch resource "pods" in API group "" in the namespace "ns"'
  run kubectl_error_line list "$text"
  [[ $output == "error: 403 Forbidden: cannot list pods: "* ]]
}

@test "other API statuses: HTTP code and the server's message" {
  error_for list "Error from server (BadRequest): unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt" \
    400 "error: HTTP 400: unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
  error_for list 'Error from server (NotFound): the server could not find the requested resource' \
    404 'error: HTTP 404: the server could not find the requested resource'
  error_for watch 'Error from server (Expired): too old resource version: 1 (5371)' \
    410 'error: HTTP 410: too old resource version: 1 (5371)'
  error_for list 'Error from server (ServiceUnavailable): the server is currently unable to handle the request' \
    503 'error: HTTP 503: the server is currently unable to handle the request'
  error_for list 'The ListOptions "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided' \
    422 'error: HTTP 422: The ListOptions "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'
}

@test "a status client-go knows no reason for keeps its code" {
  error_for list 'Error from server (Unknown): the server responded with the status code 418 but did not return more information' \
    418 'error: HTTP 418: the server responded with the status code 418 but did not return more information'
}

@test "unknown errors keep kubectl's message, on one line" {
  error_for watch 'error: http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=""' \
    unknown 'error: http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=""'
}

@test "warnings, klog lines and line breaks never reach the error line" {
  local text
  text=$'Warning: v1 ComponentStatus is deprecated\nE1126 18:00:00.000000   123 memcache.go:265] "Unhandled Error"\nThe ListOptions "" is invalid:\n* spec: Required value'
  run kubectl_error_line list "$text"
  [ "${#lines[@]}" -eq 1 ]
  [ "$output" = 'error: HTTP 422: The ListOptions "" is invalid: * spec: Required value' ]
}

@test "is_transient: retry what a restarting server causes, not what the user must fix" {
  local kind
  for kind in unreachable unknown 410 429 500 503; do is_transient "$kind"; done
  for kind in kubeconfig tls 400 401 403 404 422; do
    if is_transient "$kind"; then
      echo "$kind should not be transient"
      return 1
    fi
  done
}
