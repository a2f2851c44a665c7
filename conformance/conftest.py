"""The suite's fixtures, its results plugin, and how scenarios share the cluster.

``cluster`` (session): the provider chosen by ``--cluster`` / ``$CLUSTER``,
started (once, before any scenario) if it was not running and stopped at the
end only if this run started it. ``api``: an admin client for set-up and
assertions. ``namespace``: a fresh namespace per test, deleted afterwards.

Scenarios run concurrently (pytest-xdist, ``-n``): each works in namespaces of
its own. A scenario marked ``alone`` (or ``disruptive``) runs while no other
does: it restarts a cluster component, or uses the one Lease of the
controller's namespace. Run without ``-n``, everything is sequential, as before.

One cell of the matrix: ``--track basics --language go`` selects that track's scenarios for that implementation
(``make check``); ``--impl "CMD ARGS"`` grades another program on the selected track (``implementations.py``).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.config import new_client_from_config

from clusterkit.local import ClusterError
from clusterkit.providers import PROVIDERS, get_provider
from clusterkit.versions import REPO_ROOT

import implementations
from implementations import command
from kube import wait_for
from results import Result, ResultsRecorder

# The advanced track's fixtures (controllers, site_namespace, golden) and the
# fault proxy (fault_proxy) live in modules of their own.
pytest_plugins = ["advanced_fixtures", "faultproxy"]

# `make check` may write its results elsewhere (CE_RESULTS_DIR), so CI's exercise check keeps the suite's own.
RESULTS_DIR = Path(os.environ.get("CE_RESULTS_DIR") or REPO_ROOT / "build" / "conformance")
LOCK_DIR = REPO_ROOT / "build" / "conformance" / "locks"
SUITE_LABEL = {"controller-examples/suite": "conformance"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cluster",
        choices=PROVIDERS,
        default=os.environ.get("CLUSTER", "local"),
        help="cluster provider (default: $CLUSTER or local)",
    )
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the advanced track's golden snapshots from the Python reference's run",
    )
    parser.addoption("--track", action="append", default=[], help="run only this track's scenarios (repeatable)")
    parser.addoption(
        "--language", action="append", default=[], help="run only this implementation (repeatable: python, go...)"
    )
    parser.addoption("--impl", default="", help='grade this command on the selected --track ("path/to/ctl --flag")')
    parser.addoption("--impl-name", default="mine", help="the name (report column) of the --impl program")


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background by a non-interactive shell (`... &`, nohup) has SIGINT ignored, and
    # its programs would inherit that: a Bash program cannot trap a signal ignored on entry, so the SIGINT
    # scenarios would test the launcher. A handler here (not "ignore") gives every program the default, as a
    # terminal does.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    command_line = config.getoption("--impl")
    if not command_line:
        return
    tracks = config.getoption("--track")
    if len(tracks) != 1:
        raise pytest.UsageError("--impl grades one track: give exactly one --track")
    name = config.getoption("--impl-name")
    implementations.add_override(tracks[0], name, command_line, base=Path(os.environ.get("CE_IMPL_BASE", REPO_ROOT)))
    if not config.getoption("--language"):
        config.option.language = [name]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``language`` takes the implementations of the test's track, narrowed by ``--language``."""
    if "language" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("track")
    names = implementations.languages(marker.args[0]) if marker else []
    wanted = metafunc.config.getoption("--language")
    if wanted:
        names = [name for name in names if name in wanted]
    metafunc.parametrize("language", names, indirect=True)


# ----- fixtures ---------------------------------------------------------------
def _is_worker(config: pytest.Config) -> bool:
    """True in a pytest-xdist worker; the process that runs the workers (or a plain run) owns the cluster."""
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Start the cluster before any worker exists, so no two processes race to start it."""
    config = session.config
    if _is_worker(config) or config.option.collectonly:
        return
    provider = get_provider(config.getoption("--cluster"))
    try:
        config._cluster_started_here = provider.up()
    except ClusterError as error:
        # No cluster means no scenario can run: one line and stop (e.g. kind
        # without a Docker engine), not the same traceback once per test.
        pytest.exit(f"error: {error}", returncode=1)


def pytest_unconfigure(config: pytest.Config) -> None:
    if getattr(config, "_cluster_started_here", False):
        get_provider(config.getoption("--cluster")).down()


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest):
    return get_provider(request.config.getoption("--cluster"))


@pytest.fixture(autouse=True)
def cluster_turn(request: pytest.FixtureRequest):
    """Shared use of the cluster: many scenarios at once, or one marked ``alone`` by itself.

    A readers-writer lock across the worker processes (fcntl locks on two
    files): ordinary scenarios hold ``shared`` in shared mode, an ``alone``
    scenario holds it exclusively. Every scenario passes the ``turnstile``
    first, so a waiting ``alone`` scenario is not overtaken forever.
    """
    alone = request.node.get_closest_marker("alone") or request.node.get_closest_marker("disruptive")
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    # Closing the files releases their locks, however the scenario ends.
    with open(LOCK_DIR / "turnstile", "a") as turnstile, open(LOCK_DIR / "shared", "a") as shared:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(shared, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        yield


# Scenarios that deploy the implementation in the cluster from its manifest (and image): an implementation
# without `shared-manifests/deploy/<name>.yaml` (a program of yours, under --impl) skips them, never passes them.
NEEDS_DEPLOY_MANIFEST = {
    "test_deploy_manifest_passes_server_dry_run",
    "test_deploy_pod_admitted_by_pod_security_restricted",
    "test_in_cluster_controller_serves_a_site",
}


@pytest.fixture
def language(request: pytest.FixtureRequest) -> str:
    """Each scenario once per language; a language without the program is skipped, never passed."""
    track = request.node.get_closest_marker("track").args[0]
    if command(track, request.param) is None:
        pytest.skip(f"no {request.param} implementation of the {track} track")
    inherent = implementations.INHERENT.get((request.param, request.node.originalname))
    if inherent:
        pytest.skip(inherent)
    manifest = REPO_ROOT / "shared-manifests" / "deploy" / f"{request.param}.yaml"
    if request.node.originalname in NEEDS_DEPLOY_MANIFEST and not manifest.is_file():
        pytest.skip(f"no {manifest.relative_to(REPO_ROOT)}: this scenario deploys the program in the cluster")
    return request.param


@pytest.fixture(scope="session")
def api(cluster) -> client.ApiClient:
    return new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def namespace(api: client.ApiClient, request: pytest.FixtureRequest) -> str:
    """A namespace for one test, ready for pods (its default ServiceAccount exists)."""
    core = client.CoreV1Api(api)
    name = make_namespace(core, request.node.originalname)
    yield name
    core.delete_namespace(name, propagation_policy="Background")


def make_namespace(core: client.CoreV1Api, hint: str) -> str:
    stem = hint.removeprefix("test_").replace("_", "-")[:40].rstrip("-")
    name = f"ce-{stem}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=SUITE_LABEL)))
    # Pods are refused until the controller-manager has created the
    # namespace's default ServiceAccount.
    wait_for(
        lambda: core.read_namespaced_service_account("default", name),
        timeout=30,
        what=f"the default ServiceAccount in {name}",
    )
    return name


# ----- results ----------------------------------------------------------------
_recorder = ResultsRecorder()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the ``--track`` selection; name each test as (track, scenario, language) for the results file.

    The name travels with the test's reports (``user_properties``), so it
    reaches the process that writes the results whichever worker ran the test.
    """
    tracks = config.getoption("--track")
    if tracks:
        kept = [item for item in items if _track(item) in tracks]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    for item in items:
        track = _track(item)
        callspec = getattr(item, "callspec", None)
        language = callspec.params.get("language", "n/a") if callspec else "n/a"
        scenario = item.originalname.removeprefix("test_")
        item.user_properties.append(("identity", (track, scenario, language)))


def _track(item: pytest.Item) -> str:
    marker = item.get_closest_marker("track")
    return marker.args[0] if marker else "unknown"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    identity = dict(report.user_properties).get("identity") or ("unknown", report.nodeid, "n/a")
    track, scenario, language = identity
    result = Result(track, scenario, language, report.outcome, round(report.duration, 2))
    _recorder.record(report.nodeid, result)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _is_worker(session.config) or not _recorder.results:
        return
    report = _recorder.write(RESULTS_DIR, session.config.getoption("--cluster"))
    session.config._conformance_report = report  # read by pytest_terminal_summary


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    report = getattr(config, "_conformance_report", None)
    if report:
        terminalreporter.write_line(f"conformance results: {report.parent / 'results.json'} and {report}")
