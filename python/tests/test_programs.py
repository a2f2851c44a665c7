"""The two programs run end to end, as separate processes, against a scripted API server on 127.0.0.1."""

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import yaml
from fake_apiserver import FakeApiServer, Script, Session, Snapshot
from helpers import make_pod

LIST_PODS = "controller_examples.basics.list_pods"
WATCH_PODS = "controller_examples.intermediate.watch_pods"


@pytest.fixture
def script() -> Script:
    return Script(snapshot=Snapshot("1", []))


@pytest.fixture
def server(script) -> Iterator[FakeApiServer]:
    server = FakeApiServer(script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()


def write_kubeconfig(path, server_url: str, namespace: str = "demo") -> str:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server_url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": namespace}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture
def kubeconfig(server, tmp_path) -> str:
    return write_kubeconfig(tmp_path / "kubeconfig", server.url)


def start(module: str, *argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def lines_of(process: subprocess.Popen) -> "queue.Queue[str]":
    """The process's output lines, as they come, read by a thread so that a test can wait with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def take(lines: "queue.Queue[str]", count: int, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    return [lines.get(timeout=max(0.0, deadline - time.monotonic())) for _ in range(count)]


def event(kind: str, name: str, rv: str) -> dict:
    return {"type": kind, "object": make_pod(name, resource_version=rv)}


def test_list_pods_pages_through_everything(script, kubeconfig):
    script.snapshot = Snapshot("7", [make_pod(f"p{i:04}", namespace=f"ns{i % 3}") for i in range(1100)])
    result = subprocess.run(
        [sys.executable, "-m", LIST_PODS, "--kubeconfig", kubeconfig, "-A", "-o", "json", "-l", "app=x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 1100
    assert [(r["namespace"], r["name"]) for r in records] == sorted((r["namespace"], r["name"]) for r in records)
    assert [query.get("continue") for query in script.lists] == [None, ["500"], ["1000"]]
    assert all(query["limit"] == ["500"] and query["labelSelector"] == ["app=x"] for query in script.lists)


def test_watch_resumes_relists_and_stops_on_sigterm(script, kubeconfig):
    script.snapshot = Snapshot("100", [make_pod("b", resource_version="11"), make_pod("a", resource_version="10")])
    relisted = Snapshot("200", [make_pod("a", resource_version="160"), make_pod("c", resource_version="161")])
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}
    script.sessions = [
        Session(
            [event("MODIFIED", "a", "101"), {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "150"}}}]
        ),
        Session([gone], snapshot=relisted),
        Session([event("ADDED", "d", "201")], hang=True),
    ]
    process = start(WATCH_PODS, "--kubeconfig", kubeconfig, "-o", "json")
    lines = lines_of(process)
    printed = [(e["type"], e["name"], e["resourceVersion"]) for e in map(json.loads, take(lines, 7))]
    assert printed == [
        ("ADDED", "a", "10"),
        ("ADDED", "b", "11"),
        ("MODIFIED", "a", "101"),
        ("MODIFIED", "a", "160"),
        ("ADDED", "c", "161"),
        ("DELETED", "b", "11"),
        ("ADDED", "d", "201"),
    ]
    assert script.watched_from == ["100", "150", "200"]

    stopped_at = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - stopped_at < 2
    assert process.stderr.read() == ""
    assert lines.empty()


def test_watch_stops_on_sigint(kubeconfig):
    process = start(WATCH_PODS, "--kubeconfig", kubeconfig)
    assert take(lines_of(process), 1) == [
        "EVENT     NAMESPACE            NAME                                     PHASE"
    ]
    time.sleep(0.5)  # into the watch, blocked reading
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=2) == 0


def test_watch_timeout(kubeconfig):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", WATCH_PODS, "--kubeconfig", kubeconfig, "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert 2 <= time.monotonic() - started < 10  # the interpreter takes a while to start on a busy machine


def test_watch_forbidden_names_the_verb(script, kubeconfig):
    script.sessions = [Session([], status=403)]
    result = subprocess.run(
        [sys.executable, "-m", WATCH_PODS, "--kubeconfig", kubeconfig], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert result.stderr == "error: 403 Forbidden: cannot watch pods: scripted failure\n"


def test_list_pods_empty_namespace(kubeconfig):
    result = subprocess.run(
        [sys.executable, "-m", LIST_PODS, "--kubeconfig", kubeconfig], capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "No resources found in demo namespace.\n")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("module", [LIST_PODS, WATCH_PODS])
def test_unreachable_server_is_one_line_and_status_1(module, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "k", f"https://127.0.0.1:{closed_port()}")
    result = subprocess.run(
        [sys.executable, "-m", module, "--kubeconfig", kubeconfig], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the API server at https://127.0.0.1:")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "status", "words"),
    [
        (["--kubeconfig", "/nonexistent/kubeconfig"], 1, "kubeconfig"),
        (["-n", "x", "-A"], 2, "not allowed"),
        (["-o", "yaml"], 2, "invalid choice"),
    ],
)
def test_errors_before_any_request(argv, status, words):
    result = subprocess.run([sys.executable, "-m", LIST_PODS, *argv], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (status, "")
    assert result.stderr.startswith("error: ") and words in result.stderr
    assert result.stderr.count("\n") == 1
