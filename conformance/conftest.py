"""The suite's fixtures and its results plugin.

``cluster`` (session): the provider chosen by ``--cluster`` / ``$CLUSTER``,
started if it was not running and stopped at the end only if this session
started it. ``api``: an admin client for set-up and assertions.
``namespace``: a fresh namespace per test, deleted afterwards.
"""

from __future__ import annotations

import os
import secrets

import pytest
from kubernetes import client, config

from clusterkit.local import ClusterError
from clusterkit.providers import PROVIDERS, get_provider
from clusterkit.versions import REPO_ROOT

from implementations import LANGUAGES, command
from kube import wait_for
from results import Result, ResultsRecorder

# The advanced track's fixtures (controllers, site_namespace, golden) and the
# fault proxy (fault_proxy) live in modules of their own.
pytest_plugins = ["advanced_fixtures", "faultproxy"]

RESULTS_DIR = REPO_ROOT / "build" / "conformance"
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


# ----- fixtures ---------------------------------------------------------------
@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest):
    provider = get_provider(request.config.getoption("--cluster"))
    try:
        started_here = provider.up()
    except ClusterError as error:
        # No cluster means no scenario can run: one line and stop (e.g. kind
        # without a Docker engine), not the same traceback once per test.
        pytest.exit(f"error: {error}", returncode=1)
    yield provider
    if started_here:
        provider.down()


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> str:
    """Each scenario once per language; a language without the program is skipped, never passed."""
    track = request.node.get_closest_marker("track").args[0]
    if command(track, request.param) is None:
        pytest.skip(f"no {request.param} implementation of the {track} track")
    return request.param


@pytest.fixture(scope="session")
def api(cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


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
_identity: dict[str, tuple[str, str, str]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Name each test as (track, scenario, language) for the results file."""
    for item in items:
        marker = item.get_closest_marker("track")
        track = marker.args[0] if marker else "unknown"
        callspec = getattr(item, "callspec", None)
        language = callspec.params.get("language", "n/a") if callspec else "n/a"
        scenario = item.originalname.removeprefix("test_")
        _identity[item.nodeid] = (track, scenario, language)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    track, scenario, language = _identity.get(report.nodeid, ("unknown", report.nodeid, "n/a"))
    result = Result(track, scenario, language, report.outcome, round(report.duration, 2))
    _recorder.record(report.nodeid, result)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _recorder.results:
        return
    report = _recorder.write(RESULTS_DIR, session.config.getoption("--cluster"))
    session.config._conformance_report = report  # read by pytest_terminal_summary


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    report = getattr(config, "_conformance_report", None)
    if report:
        terminalreporter.write_line(f"conformance results: {report.parent / 'results.json'} and {report}")
