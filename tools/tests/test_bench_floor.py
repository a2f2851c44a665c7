"""Unit tests of the bench's floor (its requests against SPEC's per-phase list) and of its plan (seeded
shuffling, the budget). A fake writer records the requests the floor's per-site functions make; no cluster."""

from __future__ import annotations

import copy
import random
from concurrent.futures import Future

import pytest
from bench import floor, plan
from bench.required import REQUIRED, REQUIRED_EVENTS, REQUIRED_READS, required_counts
from bench.settings import FLOOR, Settings
from kubernetes.client import ApiException

from controller_examples.advanced.registry import RegistryWriter

PLURALS = {"ConfigMap": "configmaps", "Deployment": "deployments", "Service": "services"}


class RecordingWriter:
    """The floor's KubeApi, faked: each call is recorded by its audit label and answered like the server."""

    def __init__(self, registry_exists: bool = True, generation: int = 1, status: dict | None = None):
        self.requests: list[str] = []
        self.registry_exists = registry_exists
        self.generation, self.status = generation, status  # of an applied object, as the server answers

    def patch_site(self, namespace, name, patch):
        self.requests.append("patch staticsites")
        return _site(name, finalizers=patch["metadata"]["finalizers"])

    def patch_config_map(self, namespace, name, patch):
        self.requests.append("patch configmaps (registry)")
        if not self.registry_exists:
            raise ApiException(status=404)
        return {"metadata": {"name": name}, "data": patch["data"]}

    def create_config_map(self, namespace, body):
        self.requests.append("create configmaps (registry)")
        self.registry_exists = True
        return body

    def get(self, kind, namespace, name):
        self.requests.append(f"get {PLURALS[kind]}")
        return None  # a new site's children do not exist

    def apply(self, obj):
        self.requests.append(f"patch {PLURALS[obj['kind']]}")
        answer = copy.deepcopy(obj)
        answer["metadata"]["generation"] = self.generation
        if self.status is not None:
            answer["status"] = self.status
        return answer

    def patch_site_status(self, namespace, name, patch):
        self.requests.append("patch staticsites/status")
        return {**_site(name), "status": patch["status"]}


def _site(name: str = "site-0000", finalizers: list | None = None, generation: int = 1) -> dict:
    metadata = {"name": name, "namespace": "ns", "uid": "u-1", "generation": generation, "resourceVersion": "7"}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    return {
        "apiVersion": "sites.example.com/v1alpha1",
        "kind": "StaticSite",
        "metadata": metadata,
        "spec": {"replicas": 1, "image": "nginx:1.27.3", "content": {"index.html": "<h1>hi</h1>"}},
    }


def _rolled_out(deployment: dict, generation: int = 1) -> dict:
    return _state(deployment, generation, replicas=1, updated=1, ready=1)


def _surge(deployment: dict, generation: int = 1) -> dict:
    """The new pod ready while the old one still runs (maxSurge 1 of 1 replica)."""
    return _state(deployment, generation, replicas=2, updated=1, ready=2)


def _state(deployment: dict, generation: int, replicas: int, updated: int, ready: int) -> dict:
    status = {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": updated,
              "readyReplicas": ready}  # fmt: skip
    return {**deployment, "metadata": {**deployment["metadata"], "generation": generation}, "status": status}


APPLIES = {"patch configmaps", "patch deployments", "patch services"}
GETS = {"get configmaps", "get deployments", "get services"}


def _in_steps(labels: list[str]) -> list[str | tuple[str, ...]]:
    """The requests as SPEC orders them: a site's lookups go at once, and so do its applies, so each run of
    them is one unordered step."""
    steps: list[str | tuple[str, ...]] = []
    for label in labels:
        group = next((group for group in (APPLIES, GETS) if label in group), None)
        if group and steps and isinstance(steps[-1], tuple) and steps[-1][0] in group:
            steps[-1] = tuple(sorted((*steps[-1], label)))
        else:
            steps.append((label,) if group else label)
    return steps


def _labels(phase: str) -> list[str | tuple[str, ...]]:
    """SPEC's requests of a phase, the reads (the lookups) before the applies."""
    writes = [request.label for request in REQUIRED[phase]]
    reads = [request.label for request in REQUIRED_READS[phase]]
    if reads:
        first_apply = next(index for index, label in enumerate(writes) if label in APPLIES)
        writes[first_apply:first_apply] = reads
    return _in_steps(writes)


def _run_phase(phase: str, writer: RecordingWriter) -> list[str]:
    """The floor's writes for one site in ``phase``; returns the events it recorded."""
    recorded: list[str] = []

    def record(site, message):
        recorded.append(message)

    if phase == "delete":
        floor.write_deleted(writer, RegistryWriter(writer), _site(finalizers=["sites.example.com/registry"]))
        return recorded
    if phase == "create":
        site, deployment = floor.write_created(writer, RegistryWriter(writer), record, _site())
    else:
        site, deployment = floor.write_updated(writer, record, _site())
        floor.write_rollout_status(writer, site, _surge(deployment))
    floor.write_rollout_status(writer, site, _rolled_out(deployment))
    return recorded


@pytest.mark.parametrize("phase", ["create", "update", "delete"])
def test_the_floor_makes_exactly_the_required_requests_in_specs_order(phase):
    writer = RecordingWriter()
    events = _run_phase(phase, writer)
    assert _in_steps(writer.requests) == _labels(phase)
    assert len(events) == REQUIRED_EVENTS[phase]


def test_the_required_table_counts_what_spec_asks_per_site():
    assert required_counts("create") == {
        "patch staticsites": 1,  # the finalizer
        "patch configmaps (registry)": 1,
        "patch configmaps": 1,  # the content
        "patch deployments": 1,
        "patch services": 1,
        "patch staticsites/status": 2,  # Progressing, then Available
    }
    assert required_counts("update") == {
        "patch configmaps": 1,
        "patch deployments": 1,
        "patch staticsites/status": 3,  # Progressing, the surge's 2/1 if seen, Available
    }
    assert required_counts("delete") == {"patch configmaps (registry)": 1, "patch staticsites": 1}
    assert [read.label for read in REQUIRED_READS["create"]] == ["get configmaps", "get deployments", "get services"]
    assert REQUIRED_READS["update"] == REQUIRED_READS["delete"] == ()  # the children are cached by then
    assert REQUIRED["create"][0].label == "patch staticsites"  # the finalizer before anything else
    assert REQUIRED["delete"][-1].label == "patch staticsites"  # the finalizer last


def test_the_first_site_of_a_namespace_creates_the_registry():
    writer = RecordingWriter(registry_exists=False)
    _run_phase("create", writer)
    assert _in_steps(writer.requests)[:4] == [
        "patch staticsites",
        "patch configmaps (registry)",  # answered 404
        "create configmaps (registry)",
        ("get configmaps", "get deployments", "get services"),  # the children looked up, at once
    ]


def test_the_floor_announces_the_children_it_applied():
    (message,) = _run_phase("update", RecordingWriter())
    assert message == "applied ConfigMap site-0000-content, Deployment site-0000"


def test_the_floor_writes_a_status_for_each_rollout_state_that_changes_it_in_order():
    # The apply's answer: the new generation, the old pod's status (not rolled out: observedGeneration 1).
    writer = RecordingWriter(generation=2, status={"observedGeneration": 1, "replicas": 1, "readyReplicas": 1})
    work = floor.Floor(writer, workers=2)
    site = _site(generation=2, finalizers=["sites.example.com/registry"])
    work.see_site("site-0000", site)  # new content: the update chain
    deployment = next(child for child in floor.desired_children(site) if child["kind"] == "Deployment")
    old, new = _rolled_out(deployment, generation=1), _state(deployment, 2, replicas=1, updated=0, ready=1)
    states = [old, new, _surge(deployment, 2), _surge(deployment, 2), _rolled_out(deployment, 2),
              _rolled_out(deployment, 2)]  # fmt: skip
    for state in states:
        work.see_deployment("site-0000", state)
        work.chains["site-0000"].result(timeout=10)
    work.pool.shutdown()
    statuses = [request for request in writer.requests if request == "patch staticsites/status"]
    # Progressing (from the apply's answer), then 2/1 (the surge), then Available: the old generation's state,
    # the state that reports what Progressing did and the repeated ones write nothing.
    assert len(statuses) == 3
    assert work.reported["site-0000"] == (2, "True", 1)


def test_a_deployment_state_arriving_while_a_task_waits_is_the_one_it_reads():
    writer = RecordingWriter()
    work = floor.Floor(writer, workers=1)
    site = _site(generation=2, finalizers=["sites.example.com/registry"])
    blocker = Future()
    work.chains["site-0000"] = blocker  # the site's chain, still running
    deployment = next(child for child in floor.desired_children(site) if child["kind"] == "Deployment")
    work.see_deployment("site-0000", _surge(deployment, 2))
    work.see_deployment("site-0000", _rolled_out(deployment, 2))  # coalesced with the one before
    work.reported["site-0000"] = (2, "False", 1)
    blocker.set_result({**site, "status": {}})
    work.chains["site-0000"].result(timeout=10)
    work.pool.shutdown()
    assert writer.requests == ["patch staticsites/status"]  # one task, the newest state: Available
    assert work.reported["site-0000"] == (2, "True", 1)


# ----- the plan ------------------------------------------------------------------------------
def _settings(**changes) -> Settings:
    return Settings(**{"sizes": (10, 100), "reps": 5, "pods": 10, "seed": 3, **changes})


def test_every_block_runs_the_floor_and_each_implementation_once():
    blocks = plan.make_plan(_settings(), ["bash", "python", "go"], random.Random(3))
    assert [(block.size, block.rep) for block in blocks] == [(n, rep) for n in (10, 100) for rep in range(1, 6)]
    assert all(sorted(block.order) == sorted([FLOOR, "bash", "python", "go"]) for block in blocks)


def test_the_order_is_shuffled_per_block_and_replayed_by_the_seed():
    orders = [block.order for block in plan.make_plan(_settings(), ["bash", "python", "go"], random.Random(3))]
    assert len(set(orders)) > 1  # not one fixed order
    again = [block.order for block in plan.make_plan(_settings(), ["bash", "python", "go"], random.Random(3))]
    assert again == orders
    other = [block.order for block in plan.make_plan(_settings(), ["bash", "python", "go"], random.Random(4))]
    assert other != orders
    assert plan.make_plan(_settings(), ["go"], random.Random(3))[0].as_json()["order"] in (["go", FLOOR], [FLOOR, "go"])


def test_opt_in_blocks_are_python_and_go_only_and_marked():
    blocks = plan.make_plan(_settings(sizes=(1000,), reps=1, large=True, sweep=True), ["bash", "python", "go"],
                            random.Random(1))  # fmt: skip
    sweep = [(block.workers, set(block.order)) for block in blocks if block.kind == plan.SWEEP]
    assert sweep == [(1, {FLOOR, "python", "go"}), (16, {FLOOR, "python", "go"})]  # 4 is the default block's
    (large,) = [block for block in blocks if block.kind == plan.LARGE]
    assert (large.size, large.rep, set(large.order)) == (10_000, 1, {FLOOR, "python", "go"})


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_stops_later_repetitions_never_the_first():
    blocks = plan.make_plan(_settings(sizes=(1000,), reps=3), ["python"], random.Random(1))
    clock = FakeClock()
    progress = plan.Progress(blocks, budget_seconds=plan.block_seconds(blocks[0]) * 2, clock=clock)
    assert progress.admit(blocks[0]) == blocks[0]
    clock.now = plan.block_seconds(blocks[0]) * 1.5  # slower than modelled: calibration 1.5
    for who in blocks[0].order:
        progress.run_done(who, 1000)
    assert progress.calibration() == pytest.approx(1.5)
    assert progress.admit(blocks[1]) is None
    assert progress.skipped == [blocks[1]]
    unlimited = plan.Progress(blocks, budget_seconds=0, clock=clock)
    assert unlimited.admit(blocks[2]) == blocks[2]


def test_the_budget_drops_the_framework_columns_before_a_whole_repetition():
    blocks = plan.make_plan(_settings(sizes=(1000,), reps=2), ["python", "python-kopf"], random.Random(1))
    clock = FakeClock()
    without = plan.block_seconds(plan.Block(1000, 4, 2, (FLOOR, "python")))
    # Room for the first block, then for the second one without kopf, not with it.
    budget = plan.block_seconds(blocks[0]) + without + plan.PROGRAMS_SECONDS + 1
    progress = plan.Progress(blocks, budget_seconds=budget, clock=clock)
    progress.admit(blocks[0])
    clock.now = plan.block_seconds(blocks[0])  # exactly as modelled
    for who in blocks[0].order:
        progress.run_done(who, 1000)
    admitted = progress.admit(blocks[1])
    assert admitted is not None and sorted(admitted.order) == sorted([FLOOR, "python"])
    assert progress.trimmed == [(blocks[1], ("python-kopf",))] and progress.skipped == []
