"""The suite's machine-readable results and its Markdown report.

Every test is one *scenario* of one *track* for one *language*:
``build/conformance/results.json`` lists them as
``{track, scenario, language, outcome, seconds}`` and ``report.md`` lays them
out as one table per track, a column per language, so a reader sees at a
glance where the implementations differ.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

TRACKS = ("cluster", "basics", "intermediate", "advanced")
# The reference languages come first, in this order; any other implementation (a framework, a learner's program)
# follows in the order the results name it, so a fourth language is a column of its own, never dropped.
LANGUAGES = ("bash", "python", "go")
SYMBOL = {"passed": "pass", "failed": "**FAIL**", "skipped": "skip"}


@dataclass
class Result:
    track: str
    scenario: str
    language: str
    outcome: str  # passed | failed | skipped
    seconds: float


class ResultsRecorder:
    def __init__(self) -> None:
        self.results: dict[str, Result] = {}

    def record(self, nodeid: str, result: Result) -> None:
        """Keep the worst outcome a test had across setup/call/teardown."""
        previous = self.results.get(nodeid)
        if previous is None or previous.outcome == "passed":
            if previous is not None:
                result.seconds += previous.seconds
            self.results[nodeid] = result
        else:
            previous.seconds += result.seconds

    def write(self, directory: Path, provider: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        rows = sorted(
            self.results.values(),
            key=lambda r: (TRACKS.index(r.track) if r.track in TRACKS else 99, r.scenario, r.language),
        )
        (directory / "results.json").write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
        report = directory / "report.md"
        report.write_text(render_report(rows, provider))
        return report


def render_report(rows: list[Result], provider: str) -> str:
    counts = defaultdict(int)
    for row in rows:
        counts[row.outcome] += 1
    lines = [
        "# Conformance report",
        "",
        f"Cluster provider: `{provider}`. " + ", ".join(f"{counts[o]} {o}" for o in ("passed", "failed", "skipped")),
        "",
    ]
    by_track: dict[str, list[Result]] = defaultdict(list)
    for row in rows:
        by_track[row.track].append(row)
    for track, track_rows in by_track.items():
        languages = columns(track_rows)
        lines += [f"## {track}", "", "| scenario | " + " | ".join(languages) + " |"]
        lines.append("|---" * (len(languages) + 1) + "|")
        scenarios: dict[str, dict[str, Result]] = defaultdict(dict)
        for row in track_rows:
            scenarios[row.scenario][row.language] = row
        for scenario, cells in scenarios.items():
            rendered = [
                f"{SYMBOL[cells[lang].outcome]} ({cells[lang].seconds:.1f}s)" if lang in cells else "missing"
                for lang in languages
            ]
            lines.append(f"| {scenario} | " + " | ".join(rendered) + " |")
        lines.append("")
    return "\n".join(lines)


def columns(rows: list[Result]) -> list[str]:
    """The report's columns for ``rows``: the reference languages, then the others as they appear, then n/a."""
    named = list(dict.fromkeys(row.language for row in rows))
    others = [name for name in named if name not in LANGUAGES and name != "n/a"]
    return [lang for lang in LANGUAGES if lang in named] + others + (["n/a"] if "n/a" in named else [])
