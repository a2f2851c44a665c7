"""Computing the status: the Ready condition's table, and when lastTransitionTime moves."""

from datetime import UTC, datetime

import pytest

from advanced.fakes import make_site
from controller_examples.advanced.status import (
    conflict_verdict,
    desired_status,
    invalid_name_verdict,
    rollout_verdict,
    status_differs,
    transition_time,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
EARLIER = "2026-02-01T08:00:00Z"


def deployment(generation=1, **status):
    return {"metadata": {"generation": generation}, "status": status}


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (deployment(observedGeneration=1, replicas=2, updatedReplicas=2, readyReplicas=2),
         ("True", "Available", "2/2 replicas ready")),
        (deployment(observedGeneration=2, replicas=2, updatedReplicas=2, readyReplicas=2),
         ("True", "Available", "2/2 replicas ready")),
        (deployment(generation=2, observedGeneration=1, replicas=2, updatedReplicas=2, readyReplicas=2),
         ("False", "Progressing", "2/2 replicas ready")),
        (deployment(observedGeneration=1, replicas=2, updatedReplicas=1, readyReplicas=2),
         ("False", "Progressing", "2/2 replicas ready")),
        (deployment(observedGeneration=1, replicas=3, updatedReplicas=2, readyReplicas=2),
         ("False", "Progressing", "2/2 replicas ready")),
        (deployment(observedGeneration=1, replicas=2, updatedReplicas=2, readyReplicas=1),
         ("False", "Progressing", "1/2 replicas ready")),
        (deployment(), ("False", "Progressing", "0/2 replicas ready")),
        (None, ("False", "Progressing", "0/2 replicas ready")),
    ],
)  # fmt: skip
def test_the_ready_condition_follows_the_rollout(actual, expected):
    verdict = rollout_verdict(make_site(replicas=2), actual)

    assert (verdict.status, verdict.reason, verdict.message) == expected


def test_zero_replicas_is_available_once_observed():
    verdict = rollout_verdict(make_site(replicas=0), deployment(observedGeneration=1))

    assert (verdict.status, verdict.reason, verdict.message) == ("True", "Available", "0/0 replicas ready")


def test_problem_messages_are_exact():
    assert conflict_verdict("Service", "web").message == "Service web exists and is not controlled by this StaticSite"
    invalid = invalid_name_verdict("1site")
    assert (invalid.status, invalid.reason) == ("False", "InvalidSpec")
    assert invalid.message == (
        "name 1site cannot be a Service name: it must be a DNS-1035 label (lowercase letters, digits and '-', "
        "starting with a letter, at most 63 characters)"
    )


def test_desired_status_has_every_field():
    site = make_site(name="hello", namespace="demo", generation=3)
    verdict = rollout_verdict(site, None)

    assert desired_status(site, verdict, 0, NOW) == {
        "observedGeneration": 3,
        "readyReplicas": 0,
        "url": "http://hello.demo.svc.cluster.local",
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "Progressing",
                "message": "0/2 replicas ready",
                "observedGeneration": 3,
                "lastTransitionTime": "2026-03-01T12:00:00Z",
            }
        ],
    }


def condition(status, reason="Progressing", message="1/2 replicas ready"):
    return {"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": EARLIER}


def test_transition_time_is_now_when_the_condition_appears():
    assert transition_time(None, "False", NOW) == "2026-03-01T12:00:00Z"


def test_transition_time_is_kept_while_the_status_is_the_same():
    assert transition_time(condition("False"), "False", NOW) == EARLIER


def test_transition_time_moves_when_the_status_changes():
    assert transition_time(condition("False"), "True", NOW) == "2026-03-01T12:00:00Z"


def test_a_new_reason_with_the_same_status_keeps_the_time():
    site = make_site(status={"conditions": [condition("False", reason="ChildConflict", message="...")]})

    status = desired_status(site, rollout_verdict(site, None), 0, NOW)

    assert status["conditions"][0]["reason"] == "Progressing"
    assert status["conditions"][0]["lastTransitionTime"] == EARLIER


def test_status_differs_only_on_the_fields_the_controller_sets():
    site = make_site()
    status = desired_status(site, rollout_verdict(site, None), 0, NOW)
    site["status"] = {**status, "someoneElses": "field"}

    assert not status_differs(site, status)
    assert status_differs(site, {**status, "readyReplicas": 1})
    assert status_differs(make_site(), status)
