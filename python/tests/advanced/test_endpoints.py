"""The HTTP endpoints: probes and metrics."""

import urllib.error
import urllib.request

import pytest

from controller_examples.advanced.endpoints import Metrics, host_port, serve_health, serve_metrics


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_probes_answer_health_at_once_and_readiness_when_ready():
    ready = False
    server = serve_health(("127.0.0.1", 0), lambda: ready)
    port = server.server_address[1]
    try:
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz")[0] == 503
        ready = True
        assert get(port, "/readyz") == (200, "ok\n")
        assert get(port, "/other")[0] == 404
    finally:
        server.shutdown()


def test_metrics_have_the_specs_names():
    metrics = Metrics()
    metrics.leader.set(1)
    server = serve_metrics(("127.0.0.1", 0), metrics)
    try:
        status, body = get(server.server_port, "/metrics")
    finally:
        server.shutdown()

    names = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line and not line.startswith("#")}
    assert status == 200
    assert names == {
        "staticsite_reconcile_total",
        "staticsite_reconcile_duration_seconds_bucket",
        "staticsite_reconcile_duration_seconds_count",
        "staticsite_reconcile_duration_seconds_sum",
        "staticsite_queue_depth",
        "staticsite_leader",
    }
    assert 'staticsite_reconcile_total{result="success"} 0.0' in body
    assert 'staticsite_reconcile_total{result="error"} 0.0' in body
    assert "staticsite_leader 1.0" in body


@pytest.mark.parametrize(("text", "address"), [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:80", ("::1", 80))])
def test_host_port(text, address):
    assert host_port(text) == address


def test_probes_listen_on_ipv6_too():
    server = serve_health(("::1", 0), lambda: True)
    try:
        with urllib.request.urlopen(f"http://[::1]:{server.server_address[1]}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        server.shutdown()
