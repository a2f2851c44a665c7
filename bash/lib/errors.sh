# shellcheck shell=bash
# Turning kubectl's stderr into the contract's one-line errors (conformance/CONTRACT.md, "Exit codes and errors").
#
# kubectl already condenses most failures into one line, in a few fixed shapes:
#   error: error loading config file "...": ...                                     (kubeconfig)
#   Unable to connect to the server: tls: failed to verify certificate: x509: ...   (TLS)
#   The connection to the server HOST was refused - did you specify ...?            (unreachable)
#   Unable to connect to the server: dial tcp: lookup HOST ...: no such host        (unreachable)
#   error: You must be logged in to the server (Unauthorized)                       (401)
#   Error from server (Forbidden): pods is forbidden: User "..." cannot list ...    (any API status)
# but it can add warnings and log lines, so we classify the whole text and quote only the line that matters.

# die MESSAGE: the one error line, then exit 1.
die() {
  printf '%s\n' "$1" >&2
  exit 1
}

# error_detail TEXT: kubectl's message on one line. Warnings and klog lines ("E1126 10:00:00.000 ...") are
# dropped, the "error: " prefix too; a message kubectl spread over several lines is joined with spaces.
error_detail() {
  local line detail=""
  while IFS= read -r line; do
    if [[ -n $line && $line != Warning:* && ! $line =~ ^[IWEF][0-9]{4}\  ]]; then
      detail+="${detail:+ }${line#error: }"
    fi
  done <<<"$1"
  printf '%s\n' "$detail"
}

# http_status_for_reason REASON: the HTTP status behind an API status reason (metav1.StatusReason).
# kubectl prints the reason, not the code.
http_status_for_reason() {
  case $1 in
    BadRequest) echo 400 ;;
    Unauthorized) echo 401 ;;
    Forbidden) echo 403 ;;
    NotFound) echo 404 ;;
    MethodNotAllowed) echo 405 ;;
    NotAcceptable) echo 406 ;;
    AlreadyExists | Conflict) echo 409 ;;
    Gone | Expired) echo 410 ;;
    RequestEntityTooLarge) echo 413 ;;
    UnsupportedMediaType) echo 415 ;;
    Invalid) echo 422 ;;
    TooManyRequests) echo 429 ;;
    InternalError | ServerTimeout) echo 500 ;;
    ServiceUnavailable) echo 503 ;;
    Timeout) echo 504 ;;
    *) return 1 ;;
  esac
}

# http_status TEXT: the HTTP status of an API error reported by kubectl, or status 1 if TEXT is not one.
http_status() {
  local text=$1
  if [[ $text == *"You must be logged in to the server"* ]]; then
    echo 401
  elif [[ $text =~ Error\ from\ server\ \(([A-Za-z]+)\) ]] && http_status_for_reason "${BASH_REMATCH[1]}"; then
    return 0
  elif [[ $text =~ the\ server\ responded\ with\ the\ status\ code\ ([0-9]{3}) ]]; then
    echo "${BASH_REMATCH[1]}" # client-go's words for a status without a known reason
  elif [[ $text == *"The request is invalid"* || $text =~ The\ [A-Za-z]+\ \"[^\"]*\"\ is\ invalid ]]; then
    echo 422 # kubectl's own words for an "Invalid" status
  else
    return 1
  fi
}

# kubectl_error_kind TEXT: what went wrong, from kubectl's stderr:
# kubeconfig | an HTTP status code (the server answered) | tls | unreachable | unknown.
# The order matters: an answer from the server is neither a TLS nor a network problem, and
# "Unable to connect to the server: tls: ..." is a TLS problem, not an unreachable server.
kubectl_error_kind() {
  local text=$1
  case $text in
    *kubeconfig* | *"invalid configuration"* | *"Error in configuration"* | *"error loading config file"* | \
      *"context was not found"* | *"error: context \""*"\" does not exist"*)
      echo kubeconfig
      ;;
    *)
      if ! http_status "$text"; then
        case $text in
          *x509:* | *certificate* | *tls:*) echo tls ;;
          *"Unable to connect to the server"* | *"was refused"* | *"connection refused"* | *"no such host"* | \
            *"i/o timeout"* | *"no route to host"* | *"network is unreachable"* | *"Client.Timeout exceeded"* | \
            *"context deadline exceeded"* | *"TLS handshake timeout"*)
            echo unreachable
            ;;
          *) echo unknown ;;
        esac
      fi
      ;;
  esac
}

# kubectl_error_line VERB TEXT: the contract's error line for kubectl's stderr TEXT, where VERB (list or watch)
# is what we asked the API server to do with pods.
kubectl_error_line() {
  local verb=$1 text=$2 kind detail
  kind=$(kubectl_error_kind "$text")
  detail=$(error_detail "$text")
  detail=${detail#Unable to connect to the server: }
  case $kind in
    kubeconfig) echo "error: invalid kubeconfig: $detail" ;;
    tls) echo "error: TLS verification failed: $detail" ;;
    unreachable) echo "error: cannot reach the API server: $detail" ;;
    401) echo "error: 401 Unauthorized: $detail" ;;
    403) echo "error: 403 Forbidden: cannot $verb pods: ${detail#Error from server (*): }" ;;
    [0-9]*) echo "error: HTTP $kind: ${detail#Error from server (*): }" ;;
    *) echo "error: $detail" ;;
  esac
}

# is_transient KIND: whether retrying may help with an error of this kind (see kubectl_error_kind): the server
# is unreachable or restarting (5xx), asks us to slow down (429), the resourceVersion expired (410), or the
# connection broke in some other way. A bad kubeconfig, TLS failure, 401, 403 or other 4xx will not go away.
is_transient() {
  case $1 in
    unreachable | unknown | 410 | 429 | 5[0-9][0-9]) return 0 ;;
    *) return 1 ;;
  esac
}
