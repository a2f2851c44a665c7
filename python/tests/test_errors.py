"""API and connection failures, each explained in one line naming its cause."""

import json
import socket
import ssl

import pytest
import urllib3
from kubernetes.client import ApiException

from controller_examples.common.errors import CommandError, describe, explained, one_line

HOST = "https://127.0.0.1:6443"


def api_error(status: int, message: str | None = None, body: str | None = None) -> ApiException:
    if message is not None:
        body = json.dumps({"kind": "Status", "status": "Failure", "message": message, "code": status})
    return ApiException(status=status, reason="reason", body=body)


def raised_from(*chain: BaseException) -> BaseException:
    """Raise chain[-1], from chain[-2], ... as Python would have linked them; return the outermost."""
    error = chain[-1]
    for outer in reversed(chain[:-1]):
        try:
            raise outer from error
        except BaseException as linked:
            error = linked
    return error


def explain(error: BaseException, action: str = "list pods") -> str | None:
    return describe(error, action=action, host=HOST)


def test_401():
    message = explain(api_error(401, "Unauthorized"))
    assert message.startswith("401 Unauthorized") and HOST in message


def test_403_names_the_verb_and_resource():
    server = 'pods is forbidden: User "bob" cannot watch resource "pods" in API group "" in the namespace "demo"'
    message = explain(api_error(403, server), action="watch pods")
    assert message == f"403 Forbidden: cannot watch pods: {server}"


def test_other_statuses_carry_the_code_and_the_server_message():
    assert explain(api_error(400, "unable to parse requirement:\n bad")) == "HTTP 400: unable to parse requirement: bad"
    assert explain(api_error(410, "too old resource version: 1 (2)")) == "HTTP 410: too old resource version: 1 (2)"
    assert explain(api_error(503, body="<html>\nService Unavailable\n</html>")) == (
        "HTTP 503: <html> Service Unavailable </html>"
    )
    assert explain(api_error(500)) == "HTTP 500: reason"


def test_connection_refused():
    error = raised_from(
        urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] ..."),
        ConnectionRefusedError(111, "Connection refused"),
    )
    assert explain(error) == f"cannot reach the API server at {HOST}: Connection refused"


def test_connection_failure_inside_max_retry_error():
    cause = raised_from(
        urllib3.exceptions.NameResolutionError("example.invalid", None, socket.gaierror(-2, "x")),
        socket.gaierror(-2, "Name or service not known"),
    )
    error = urllib3.exceptions.MaxRetryError(None, "/api/v1/pods", reason=cause)
    assert explain(error) == f"cannot reach the API server at {HOST}: Name or service not known"


def test_broken_stream():
    error = urllib3.exceptions.ProtocolError("Response ended prematurely")
    assert explain(error).startswith("cannot reach the API server")


def test_tls_verification_failure_as_the_client_reports_it():
    # The client turns urllib3's SSLError into ApiException(status=0), raised while handling it.
    verification = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    verification.verify_message = "unable to get local issuer certificate"
    error = raised_from(ApiException(status=0, reason="SSLError"), urllib3.exceptions.SSLError(), verification)
    assert explain(error) == (
        f"TLS with the API server at {HOST} failed: certificate verify failed: unable to get local issuer certificate"
    )


def test_other_tls_failures():
    error = urllib3.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
    assert explain(error).startswith("TLS with the API server")


def test_other_errors_are_not_explained():
    assert explain(ValueError("a bug")) is None


def test_explained_raises_a_command_error():
    with pytest.raises(CommandError, match=r"^403 Forbidden: cannot list pods: no$"), explained("list pods", HOST):
        raise api_error(403, "no")
    with pytest.raises(KeyError), explained("list pods", HOST):
        raise KeyError("a bug goes through untouched")


def test_one_line():
    assert one_line("a\n  b\tc\n") == "a b c"
