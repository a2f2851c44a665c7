"""list-pods output: JSON lines, the table, ages."""

from datetime import UTC, datetime, timedelta

import pytest
from helpers import make_pod

from controller_examples.basics.list_pods import (
    age,
    human_duration,
    json_lines,
    no_resources_message,
    table_lines,
)
from controller_examples.common.pods import pod_record

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (-2 * SECOND, "<invalid>"),
        (-1999 * timedelta(milliseconds=1), "0s"),  # truncated to -1 s: still "now"
        (-SECOND, "0s"),
        (-timedelta(milliseconds=500), "0s"),
        (timedelta(0), "0s"),
        (timedelta(milliseconds=999), "0s"),
        (45 * SECOND, "45s"),
        (119 * SECOND, "119s"),
        (2 * MINUTE, "2m"),
        (2 * MINUTE + SECOND, "2m1s"),
        (3 * MINUTE + 20 * SECOND, "3m20s"),
        (9 * MINUTE + 59 * SECOND, "9m59s"),
        (10 * MINUTE, "10m"),
        (10 * MINUTE + 59 * SECOND, "10m"),
        (15 * MINUTE, "15m"),
        (179 * MINUTE + 59 * SECOND, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 59 * SECOND, "3h"),
        (5 * HOUR + 2 * MINUTE, "5h2m"),
        (7 * HOUR + 59 * MINUTE, "7h59m"),
        (8 * HOUR, "8h"),
        (8 * HOUR + 59 * MINUTE, "8h"),
        (47 * HOUR + 59 * MINUTE, "47h"),
        (48 * HOUR, "2d"),
        (2 * DAY + 3 * HOUR, "2d3h"),
        (7 * DAY + 23 * HOUR + 59 * MINUTE, "7d23h"),
        (8 * DAY, "8d"),
        (8 * DAY + 23 * HOUR, "8d"),
        (729 * DAY + 23 * HOUR, "729d"),
        (2 * YEAR, "2y"),
        (2 * YEAR + 364 * DAY, "2y364d"),
        (7 * YEAR + DAY, "7y1d"),
        (8 * YEAR, "8y"),
        (8 * YEAR + 100 * DAY, "8y"),
        (123 * YEAR, "123y"),
    ],
)
def test_human_duration(elapsed, expected):
    assert human_duration(elapsed) == expected


def test_age():
    now = datetime(2025, 1, 1, 0, 3, 20, 999_000, tzinfo=UTC)
    assert age("2025-01-01T00:00:00Z", now) == "3m20s"
    assert age("", now) == "<unknown>"


def test_json_line_matches_the_contract_example():
    pod = make_pod(
        "web-0",
        containers=(("a", "nginx:1.27"), ("b", "busybox"), ("c", "busybox")),
        ready=(True, True, False),
    )
    assert json_lines([pod_record(pod)]) == [
        '{"namespace":"demo","name":"web-0","phase":"Running","node":"kwok-node-0","ready":"2/3","restarts":0,'
        '"containers":["a","b","c"],"images":["nginx:1.27","busybox","busybox"]}'
    ]


def test_json_line_with_missing_fields_and_non_ascii():
    pod = make_pod("é", phase=None, node=None, containers=())
    assert json_lines([pod_record(pod)]) == [
        '{"namespace":"demo","name":"é","phase":"","node":"","ready":"0/0","restarts":0,"containers":[],"images":[]}'
    ]


NOW = datetime(2025, 1, 3, 3, 0, 0, tzinfo=UTC)


def test_table_of_one_namespace():
    pods = [
        pod_record(make_pod("web-0", restarts=(12,), created="2025-01-03T02:59:15Z")),
        pod_record(make_pod("a-much-longer-name", node=None, phase="Pending", ready=(False,))),
    ]
    assert table_lines(pods, all_namespaces=False, now=NOW) == [
        "NAME                 READY   STATUS    RESTARTS   NODE          AGE",
        "web-0                1/1     Running   12         kwok-node-0   45s",
        "a-much-longer-name   0/1     Pending   0          <none>        2d3h",
    ]


def test_table_of_all_namespaces_puts_namespace_first():
    pods = [pod_record(make_pod("web-0", namespace="kube-system", created=None))]
    assert table_lines(pods, all_namespaces=True, now=NOW) == [
        "NAMESPACE     NAME    READY   STATUS    RESTARTS   NODE          AGE",
        "kube-system   web-0   1/1     Running   0          kwok-node-0   <unknown>",
    ]


def test_no_resources_message():
    assert no_resources_message("demo") == "No resources found in demo namespace."
    assert no_resources_message(None) == "No resources found"
