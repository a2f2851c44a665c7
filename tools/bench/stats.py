"""Medians and ratios over the raw samples (plain functions of JSON-shaped data, unit-tested).

A figure is the median of its repetitions, shown with their minimum and maximum: one slow outlier (a GC
pause, another process waking up) moves a mean, not a median, and the range shows how far to trust it.
A ratio between two figures is the ratio of their medians (so a table's ratio is what its two medians
say), with the spread of the paired ratios beside it: repetition i of one over repetition i of the other,
which ran in the same block minutes apart; their minimum and maximum show how much the ratio moves from
one repetition to the next. Comparing only figures of one run keeps the machine out of the ratio.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable


def median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """Nearest-rank percentile: a value that was actually observed (p90 of 20 samples is the 18th)."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _group_key(measure: str, key: dict) -> tuple:
    return (measure, tuple(sorted(key.items())))


def summarize(samples: list[dict]) -> list[dict]:
    """One row per (measure, key): median and p90 of the successful repetitions, how many failed and why."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for sample in samples:
        groups[_group_key(sample["measure"], sample["key"])].append(sample)
    summaries = []
    for rows in groups.values():
        values = [row["value"] for row in rows if row["value"] is not None]
        summaries.append(
            {
                "measure": rows[0]["measure"],
                "key": rows[0]["key"],
                "median": median(values),
                "min": min(values, default=None),
                "max": max(values, default=None),
                "p90": percentile(values, 0.9),
                "ok": len(values),
                "failed": len(rows) - len(values),
                "errors": sorted({row["error"] for row in rows if row["error"]}),
            }
        )
    return summaries


def paired_ratios(samples: list[dict], measure: str, baseline: str, field: str = "language") -> list[dict]:
    """For each group of ``measure`` whose ``field`` is not ``baseline``: its ratio to the baseline's group.

    ``ratio`` is median(values) / median(baseline's values), over the successful repetitions of each;
    ``paired_min``, ``paired_median``, ``paired_max`` are over value / baseline's value of the same
    repetition, paired by repetition number and every other key (size, workers, phase...). A pair where
    either side failed is left out, and a group with no pair has no ratio.
    """
    by_rep: dict[tuple, dict[int, float]] = defaultdict(dict)
    for sample in samples:
        if sample["measure"] == measure and sample["value"] is not None:
            by_rep[_group_key(measure, sample["key"])][sample["rep"]] = sample["value"]
    ratios = []
    for (_, items), values in by_rep.items():
        key = dict(items)
        if key[field] == baseline:
            continue
        baseline_values = by_rep.get(_group_key(measure, {**key, field: baseline}), {})
        pairs = [values[rep] / baseline_values[rep] for rep in values if baseline_values.get(rep)]
        if pairs:
            ratios.append(
                {
                    "measure": measure,
                    "key": key,
                    "to": baseline,
                    "ratio": median(values.values()) / median(baseline_values.values()),
                    "paired_min": min(pairs),
                    "paired_median": median(pairs),
                    "paired_max": max(pairs),
                    "pairs": len(pairs),
                }
            )
    return ratios


def median_counts(runs: list[dict[str, int]]) -> dict[str, float]:
    """Per label, the median count over runs; a label a run never saw counts 0 in that run."""
    labels = sorted({label for counts in runs for label in counts})
    return {label: median(counts.get(label, 0) for counts in runs) for label in labels}


def lookup(rows: list[dict], measure: str, **key: str | int) -> dict | None:
    """The summary (or ratio) row of ``measure`` with exactly this key, if any."""
    wanted = _group_key(measure, key)
    return next((row for row in rows if _group_key(row["measure"], row["key"]) == wanted), None)


def median_requests(runs: list[dict]) -> list[dict]:
    """Audit counts per (language, size, workers, window), each label the median over the repetitions."""
    groups: dict[tuple, list[dict[str, int]]] = defaultdict(list)
    for run in runs:
        groups[(run["language"], run["size"], run.get("workers"), run["window"])].append(run["counts"])
    return [
        {"language": language, "size": size, "workers": workers, "window": window, "counts": median_counts(counts),
         "runs": len(counts)}
        for (language, size, workers, window), counts in groups.items()
    ]  # fmt: skip
