"""Failures, explained in one line.

A program talking to Kubernetes fails in a handful of ways, and a person reading the error needs to know
which one it was: the API server answered with an HTTP status (401, 403, 410, ...), or it could not be
reached at all, or TLS verification failed. The official client reports these as quite different
exceptions:

- `kubernetes.client.ApiException` when the server answered; `status` is the HTTP status and `body` the
  server's `Status` object as JSON, whose `message` is the useful part. The client also raises it with
  status 0 for a TLS failure, keeping the original error as its `__context__`.
- urllib3 exceptions (`NewConnectionError`, `ProtocolError`, `ReadTimeoutError`, `SSLError`, ...) when the
  connection failed or broke; the operating system's error (`ConnectionRefusedError`, `socket.gaierror`,
  `ssl.SSLCertVerificationError`) is further down their chain of causes.

This module looks at that chain and names the cause, so that both programs print the same
`error: ...` line for the same failure (see "Exit codes and errors" in conformance/CONTRACT.md).
"""

import contextlib
import json
import ssl
from collections.abc import Iterator

import urllib3
from kubernetes.client import ApiException


class CommandError(Exception):
    """A failure that ends the program: it prints `error: <message>` and exits with status 1."""


def one_line(text: object) -> str:
    """Collapse any run of whitespace (newlines included) to one space: the contract wants one line."""
    return " ".join(str(text).split())


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then what caused it, and so on down to the operating system's error.

    Python links an exception to its cause with `__cause__` (`raise ... from ...`) or `__context__` (raised
    while handling another one); urllib3's `MaxRetryError` keeps its cause in `reason` instead.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(current, urllib3.exceptions.MaxRetryError) and isinstance(reason, BaseException):
            current = reason
        else:
            current = current.__cause__ or current.__context__


def http_status(error: BaseException) -> int | None:
    """The HTTP status the API server answered with, or None if it did not answer."""
    if isinstance(error, ApiException) and error.status:
        return int(error.status)
    return None


def server_message(error: ApiException) -> str:
    """The `message` of the `Status` object the API server sent, else whatever text there is."""
    try:
        message = json.loads(error.body or "")["message"]
    except (TypeError, ValueError, KeyError):
        message = error.body or error.reason or ""
    return one_line(message)


def tls_failure(error: BaseException) -> ssl.SSLError | urllib3.exceptions.SSLError | None:
    """The TLS error behind this one, if the failure happened in TLS."""
    for cause in causes(error):
        if isinstance(cause, ssl.SSLError | urllib3.exceptions.SSLError):
            return cause
    return None


def is_tls_verification_failure(error: BaseException) -> bool:
    """True when the server's certificate was not trusted: retrying will not help."""
    return any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes(error))


def is_connection_failure(error: BaseException) -> bool:
    """True when the request did not get an answer: refused, unresolvable, timed out, cut off."""
    return any(isinstance(cause, urllib3.exceptions.HTTPError | OSError) for cause in causes(error))


def describe(error: BaseException, *, action: str, host: str) -> str | None:
    """The contract's one-line message for an API or connection failure; None for any other error.

    `action` says what was attempted ("list pods", "watch pods") and `host` is the API server's URL.
    """
    if isinstance(error, ApiException) and error.status:
        return _describe_answer(error, action, host)
    tls = tls_failure(error)
    if tls is not None:
        return f"TLS with the API server at {host} failed: {_tls_detail(tls)}"
    if is_connection_failure(error):
        return f"cannot reach the API server at {host}: {_root_cause(error)}"
    return None


def _describe_answer(error: ApiException, action: str, host: str) -> str:
    """describe() for an error the API server answered with."""
    if error.status == 401:
        return f"401 Unauthorized: the API server at {host} did not accept the credentials"
    if error.status == 403:
        return f"403 Forbidden: cannot {action}: {server_message(error)}"
    return f"HTTP {error.status}: {server_message(error)}"


@contextlib.contextmanager
def explained(action: str, host: str) -> Iterator[None]:
    """Run the block; if it fails talking to the API server, raise a CommandError that says why."""
    try:
        yield
    except Exception as error:
        message = describe(error, action=action, host=host)
        if message is None:
            raise
        raise CommandError(message) from error


def _tls_detail(error: ssl.SSLError | urllib3.exceptions.SSLError) -> str:
    # ssl.SSLCertVerificationError says why the certificate was refused in verify_message, e.g.
    # "unable to get local issuer certificate" or "IP address mismatch, certificate is not valid for ...".
    for cause in causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return one_line(f"certificate verify failed: {cause.verify_message}")
    return one_line(_root_cause(error))


def _root_cause(error: BaseException) -> str:
    """The innermost error's text: "Connection refused" rather than urllib3's long wrapper."""
    *_, root = causes(error)
    text = getattr(root, "strerror", None) or str(root) or type(root).__name__
    return one_line(text)
