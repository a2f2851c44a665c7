"""Unit tests of the bench's pure parts: audit parsing and counting, medians and ratios, lines of code, the report.

The measurements themselves need a cluster and run only under `make bench`; nothing here times anything.
"""

from __future__ import annotations

import json

import pytest
from bench import __main__ as command
from bench import audit, cluster, loc, report, stats
from bench.resources import stat_process_group, status_rss_bytes
from bench.samples import Samples

from clusterkit.build import PACKAGES, _record_build_times, build_times_path

USER = "system:serviceaccount:staticsite-system:staticsite-controller"


# ----- audit -----------------------------------------------------------------------------
def _audit_line(verb="patch", resource="staticsites", subresource=None, user=USER, audit_id="a1",
                received="2026-11-26T18:00:00.500000Z", uri="/apis/x", stage="ResponseComplete"):  # fmt: skip
    event = {
        "auditID": audit_id,
        "stage": stage,
        "verb": verb,
        "requestURI": uri,
        "user": {"username": user},
        "userAgent": "OpenAPI-Generator/37.0.2/python",
        "requestReceivedTimestamp": received,
    }
    if resource:
        event["objectRef"] = {"resource": resource, **({"subresource": subresource} if subresource else {})}
    return json.dumps(event)


def test_audit_line_names_verb_resource_and_subresource():
    request = audit.parse_line(_audit_line(subresource="status"), USER)
    assert request.label == "patch staticsites/status"
    assert request.user_agent.startswith("OpenAPI-Generator")
    assert request.received == 1795716000.5  # 2026-11-26T18:00:00.5Z as epoch seconds


def test_audit_ignores_other_users_and_torn_lines():
    assert audit.parse_line(_audit_line(user="system:serviceaccount:other:thing"), USER) is None
    assert audit.parse_line(_audit_line()[:40], USER) is None  # the line being written when the log was read


def test_non_resource_requests_are_discovery_or_their_path():
    assert audit.parse_line(_audit_line(verb="get", resource=None, uri="/apis/apps/v1?timeout=32s"), USER).target == (
        "discovery"
    )
    assert audit.parse_line(_audit_line(verb="get", resource=None, uri="/version"), USER).target == "/version"


def test_a_request_logged_at_two_stages_counts_once(tmp_path):
    log = tmp_path / "audit.log"
    started = _audit_line(verb="watch", resource="deployments", audit_id="w", stage="ResponseStarted")
    ended = _audit_line(verb="watch", resource="deployments", audit_id="w")
    log.write_text("\n".join([started, _audit_line(audit_id="p"), ended]) + "\n")
    requests = audit.AuditLog(log, USER).requests_since(audit.Position(inode=0, offset=0))
    assert audit.count(requests) == {"patch staticsites": 1, "watch deployments": 1}


def _append(log, *audit_ids):
    with open(log, "a") as handle:
        handle.writelines(_audit_line(audit_id=audit_id) + "\n" for audit_id in audit_ids)


def _ids(requests) -> list[str]:
    return [request.audit_id for request in requests]


def _run_started(tmp_path):
    """An audit log with one earlier request, a reader, and the position a run starting now remembers."""
    log = tmp_path / "audit.log"
    _append(log, "old")
    reader = audit.AuditLog(log, USER)
    return log, reader, reader.position()


def test_reading_from_a_position_skips_earlier_runs(tmp_path):
    log, reader, start = _run_started(tmp_path)
    _append(log, "new")
    assert _ids(reader.requests_since(start)) == ["new"]
    absent = audit.AuditLog(tmp_path / "absent.log", USER)
    assert absent.requests_since(absent.position()) == []


def test_reading_follows_the_log_through_rotations(tmp_path):
    # What lumberjack does at --audit-log-maxsize: rename the live file, start an empty one.
    log, reader, start = _run_started(tmp_path)
    _append(log, "a")
    log.rename(tmp_path / "audit-2026-11-26T20-20-46.666.log")
    _append(log, "b")
    log.rename(tmp_path / "audit-2026-11-26T20-31-02.001.log")
    _append(log, "c")
    assert _ids(reader.requests_since(start)) == ["a", "b", "c"]


def test_a_run_whose_file_was_removed_is_an_error_not_zero(tmp_path):
    log, reader, start = _run_started(tmp_path)
    log.rename(tmp_path / "deleted-by-maxbackup")  # renamed, not unlinked, so its inode cannot be reused
    _append(log, "b")
    with pytest.raises(audit.AuditLogRotatedAway):
        reader.requests_since(start)


def test_window_is_half_open_on_the_received_time():
    early = audit.parse_line(_audit_line(audit_id="1", received="2026-11-26T18:00:00Z"), USER)
    late = audit.parse_line(_audit_line(audit_id="2", received="2026-11-26T18:00:10Z"), USER)
    assert audit.in_window([early, late], early.received, late.received) == [early]


def test_writes_separate_events_from_everything_else():
    counts = {"patch configmaps": 3, "create events": 2, "patch events": 1, "get deployments": 5, "watch services": 1}
    assert audit.writes(counts) == 3
    assert audit.writes(counts, events=True) == 3


# ----- medians and ratios ----------------------------------------------------------------
def test_median_and_nearest_rank_percentile():
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([1, 2, 3, 4]) == 2.5
    assert stats.median([]) is None
    assert stats.percentile(range(1, 21), 0.9) == 18
    assert stats.percentile([5.0], 0.9) == 5.0


def _convergence_samples() -> list[dict]:
    samples = Samples()
    for rep, (floor, python) in enumerate([(1.0, 3.0), (2.0, 4.0), (10.0, 10.0)], start=1):
        samples.add("convergence", floor, rep=rep, language="floor", size=10, phase="create")
        samples.add("convergence", python, rep=rep, language="python", size=10, phase="create")
    samples.add("convergence", 1.0, rep=1, language="bash", size=10, phase="create")
    samples.fail("convergence", "timed out", rep=2, language="bash", size=10, phase="create")
    samples.fail("convergence", "timed out", rep=1, language="go", size=10, phase="create")
    return samples.as_json()


def test_summary_is_the_median_of_successes_with_failures_counted():
    summaries = stats.summarize(_convergence_samples())
    python = stats.lookup(summaries, "convergence", language="python", size=10, phase="create")
    assert (python["median"], python["ok"], python["failed"]) == (4.0, 3, 0)
    bash = stats.lookup(summaries, "convergence", language="bash", size=10, phase="create")
    assert (bash["median"], bash["ok"], bash["failed"], bash["errors"]) == (1.0, 1, 1, ["timed out"])
    go = stats.lookup(summaries, "convergence", language="go", size=10, phase="create")
    assert go["median"] is None and go["failed"] == 1


def test_ratios_pair_repetitions_then_take_the_median():
    ratios = stats.paired_ratios(_convergence_samples(), "convergence", baseline="floor")
    python = stats.lookup(ratios, "convergence", language="python", size=10, phase="create")
    # Pairs: 3/1, 4/2, 10/10 -> their median, 2.0.
    assert (python["ratio"], python["pairs"]) == (2.0, 3)
    bash = stats.lookup(ratios, "convergence", language="bash", size=10, phase="create")
    assert (bash["ratio"], bash["pairs"]) == (1.0, 1)  # only repetition 1 succeeded
    assert stats.lookup(ratios, "convergence", language="go", size=10, phase="create") is None


def test_pairing_is_not_the_ratio_of_medians():
    samples = Samples()
    for rep, (floor, other) in enumerate([(1.0, 2.0), (5.0, 5.0), (9.0, 18.0)], start=1):
        samples.add("convergence", floor, rep=rep, language="floor", size=1, phase="create")
        samples.add("convergence", other, rep=rep, language="go", size=1, phase="create")
    (ratio,) = stats.paired_ratios(samples.as_json(), "convergence", baseline="floor")
    assert ratio["ratio"] == 2.0  # ratios 2, 1, 2; the medians' ratio would be 5/5 = 1


def test_median_counts_treat_an_unseen_label_as_zero():
    runs = [{"patch configmaps": 4, "create events": 1}, {"patch configmaps": 6}, {"patch configmaps": 5}]
    assert stats.median_counts(runs) == {"create events": 0, "patch configmaps": 5}
    grouped = stats.median_requests(
        [{"language": "go", "size": 10, "window": "run", "counts": counts} for counts in runs]
    )
    (group,) = grouped
    assert group["counts"] == {"create events": 0, "patch configmaps": 5} and group["runs"] == 3


# ----- /proc parsing ---------------------------------------------------------------------
def test_process_group_survives_a_command_name_with_parentheses_and_spaces():
    assert stat_process_group("1234 (my (odd) name) S 1 4321 4321 0 -1") == 4321


def test_rss_is_read_in_bytes_and_zero_for_a_zombie():
    assert status_rss_bytes("Name:\tpython\nVmRSS:\t  2048 kB\nThreads:\t1\n") == 2048 * 1024
    assert status_rss_bytes("Name:\tdefunct\nState:\tZ (zombie)\n") == 0


# ----- lines of code ---------------------------------------------------------------------
def test_python_counts_code_not_comments_blank_lines_or_docstrings():
    source = '''"""Module docstring,
on two lines."""

import os  # a trailing comment does not make the line a comment

# a comment


def f():
    """Docstring."""
    text = """a string
that is code"""
    return os.sep + text
'''
    assert loc.python_code_lines(source) == 5  # import, def, text = (2 lines), return


def test_go_skips_line_and_block_comments():
    source = "// Package x.\npackage x\n\n/*\nblock\n*/\nfunc f() {} // trailing\n/* one line */\n"
    assert loc.go_code_lines(source) == 2


def test_shell_keeps_the_shebang_and_drops_comments():
    source = "#!/usr/bin/env bash\n# comment\n\nset -euo pipefail\n  # indented comment\necho hi # trailing\n"
    assert loc.shell_code_lines(source) == 3


def test_count_lines_assigns_files_to_tracks_and_leaves_missing_ones_out(tmp_path):
    files = {
        "python/src/controller_examples/basics/list_pods.py": "x = 1\n",
        "python/src/controller_examples/common/cli.py": "y = 2\nz = 3\n",
        "go/cmd/list-pods/main.go": "package main\n",
        "go/internal/basics/list.go": "package basics\nvar a = 1\n",
        "go/internal/basics/list_test.go": "package basics\n",
        "go/internal/cli/options.go": "package cli\n",
        "bash/basics/list-pods": "#!/bin/bash\necho\n",
        "bash/lib/kube.sh": "# helpers\nf() { :; }\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert loc.count_lines(tmp_path) == {
        "bash": {"basics": 2, "shared": 1},
        "python": {"basics": 1, "shared": 2},
        "go": {"basics": 3, "shared": 1},
    }


# ----- the cluster's recorded build ------------------------------------------------------
def test_cold_build_is_the_latest_build_of_every_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cluster.cold_build() is None  # nothing recorded: the report says so
    build_times_path().parent.mkdir(parents=True)
    _record_build_times(build_times_path(), {name: 60.0 for name in PACKAGES})
    _record_build_times(build_times_path(), {"kubectl": 30.0})  # a partial rebuild is not a cold build
    record = cluster.cold_build()
    assert record["seconds"] == 60.0 * len(PACKAGES)
    assert set(record["binaries"]) == set(PACKAGES)


# ----- the report ------------------------------------------------------------------------
def _results(audit_available: bool = True) -> dict:
    samples = _convergence_samples()
    requests = [
        {"language": "python", "size": 10, "rep": 1, "window": "run", "counts": {"patch configmaps": 20}},
        {"language": "floor", "size": 10, "rep": 1, "window": "run", "counts": {"patch configmaps": 10}},
    ]
    return {
        "finished": "2026-11-26T20:00:00+00:00",
        "machine": {"hostname": "ci", "cpus": 2, "cpu_model": "x", "memory_gib": 24, "kernel": "6", "os": "Debian"},
        "versions": {key: "v" for key in ("kube_apiserver", "etcd", "kwok", "go", "python", "bash", "jq", "kubectl")},
        "settings": {"sizes": [10], "reps": 3, "pods": 10000, "watch_events": 20, "warm_starts": 3},
        "implementations": {
            "basics": {"bash": True, "python": True, "go": True},
            "intermediate": {"bash": True, "python": True, "go": True},
            "advanced": {"bash": True, "python": True, "go": True},
        },
        "medians": stats.summarize(samples),
        "ratios": stats.paired_ratios(samples, "convergence", baseline="floor"),
        "audit": {"available": audit_available, "reason": "no audit log", "medians": stats.median_requests(requests)},
        "cold_build": None,
        "loc": {"bash": {"basics": 10}, "python": {"basics": 20, "shared": 5}, "go": {"basics": 30}},
    }


def _row(text: str, start: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(start))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_report_shows_figures_ratios_failures_and_missing_implementations():
    results = _results()
    results["implementations"]["advanced"]["go"] = False
    text = report.render(results)
    assert "Measured on **ci**, 2026-11-26: 2 CPUs" in text
    floor, bash, python, go = _row(text, "| 10 | create")[2:]
    assert floor == "2.00 s"
    assert python == "4.00 s (2.0x)"
    assert bash == "1.00 s (1 of 2 failed) (1.0x)"
    assert go == "missing"
    assert _row(text, "| 10 | update")[2:] == ["not measured", "not measured", "not measured", "missing"]


def test_report_says_failed_never_zero():
    text = report.render(_results())  # go ran and failed every repetition
    assert _row(text, "| 10 | create")[5] == "failed"
    assert _row(text, "| `patch configmaps`")[1:] == ["10", "not measured", "20", "not measured"]
    assert _row(text, "| shared")[1:] == ["missing", "5", "missing"]


def test_report_explains_a_missing_audit_log():
    assert "Not measured: no audit log." in report.render(_results(audit_available=False))


# ----- the command line ----------------------------------------------------------------------
def test_report_without_results_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(command, "OUT_DIR", tmp_path)
    assert command.main(["report"]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert not (tmp_path / "report.md").exists()


def test_unknown_arguments_are_a_usage_error(capsys):
    assert command.main(["reprot"]) == 2
    assert "usage: python -m bench [report]" in capsys.readouterr().err
