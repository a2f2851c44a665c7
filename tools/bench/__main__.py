"""``python -m bench``: run every measurement, then write results.json, report.md and convergence.png.

``python -m bench report`` renders report.md and the plot again from an existing results.json (after a
change to the report, or once the cold build has been recorded), without measuring anything.

The order keeps measurements apart: the lines of code (no cluster), then on the `local` cluster the floor
and the controllers (block by block, bench/plan.py: repetition i of every implementation at one N runs
close together in time, in a shuffled order, so their ratios compare like with like), list-pods and
watch-pods, and last the cluster's own warm starts. The cluster is started if none runs (``CLUSTER_DIR``
chooses its directory, as for clusterkit) and stopped at the end only if the bench started it.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import sys
from datetime import UTC, datetime

from bench import cluster, convergence, floor, listing, loc, machine, plan, report, stats
from bench.audit import AuditLog
from bench.context import Bench
from bench.kubeutil import admin_client
from bench.phases import PHASES, fail_phases
from bench.samples import Samples
from bench.settings import ADVANCED, FLOOR, LANGUAGES, OUT_DIR, Settings, docs_dir, say
from bench.suite import controllers, implementations
from clusterkit.providers import get_provider

CONTROLLER_USER = controllers.CONTROLLER_USER
OUTPUTS = ("results.json", "report.md", "convergence.png")


def main(arguments: list[str]) -> int:
    if arguments == ["report"]:
        return rerender()
    if arguments:
        print(f"usage: python -m bench [report] (got {' '.join(arguments)!r})", file=sys.stderr)
        return 2
    return measure_all()


def measure_all() -> int:
    settings = Settings.from_environment()
    work_dir = OUT_DIR / "work"
    work_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {"started": _now(), "settings": dataclasses.asdict(settings), "implementations": _present()}
    present = [
        name
        for name in ADVANCED
        if results["implementations"]["advanced"][name] and (not settings.only or name in settings.only)
    ]
    blocks = plan.make_plan(settings, present, random.Random(settings.seed))
    estimate = plan.plan_seconds(blocks)
    results["plan"] = {"seed": settings.seed, "blocks": [block.as_json() for block in blocks], "measured": present,
                       "estimate_seconds": estimate, "skipped": []}  # fmt: skip
    missing = [name for name in ADVANCED if not results["implementations"]["advanced"][name]]
    say(
        f"sizes {settings.sizes}, {settings.reps} repetitions, --workers {settings.workers}, seed {settings.seed}; "
        f"StaticSite implementations measured: {present}; missing (no program): {missing}"
    )
    say(f"{len(blocks)} blocks; the cost model estimates {estimate / 60:.0f} min (budget {settings.budget_minutes:g})")
    results["loc"] = loc.count_lines()
    results["loc_reused"] = loc.reused_packages()
    results["machine"] = machine.machine()
    local = get_provider("local")
    started_here = local.up()
    bench = Bench(local, admin_client(local), settings, AuditLog(local.audit_log, CONTROLLER_USER), work_dir)
    try:
        controllers.install_api_and_rbac(local)
        results["versions"] = machine.versions(local, bench.api)
        _measure(bench, results, blocks)
    finally:
        if started_here:
            local.down()
        # Written even when a measurement crashed: the raw samples of a long run are worth keeping.
        results.update(_summaries(bench))
        (OUT_DIR / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    _render_and_publish(results)
    return 0


def rerender() -> int:
    """The report again from build/bench/results.json; only the cold build is read afresh.

    The cold build is the one figure the bench reads rather than measures (bench/cluster.py), so a
    report rendered after the binaries were built from empty caches shows that build.
    """
    path = OUT_DIR / "results.json"
    if not path.is_file():
        print(f"bench: no {path} to render; run `make bench` first", file=sys.stderr)
        return 1
    results = json.loads(path.read_text())
    results["cold_build"] = cluster.cold_build() or results.get("cold_build")
    path.write_text(json.dumps(results, indent=1) + "\n")
    _render_and_publish(results)
    return 0


def _present() -> dict[str, dict[str, bool]]:
    """Per track, every implementation the bench knows, and whether its program exists (else: "missing")."""
    return {
        track: {name: implementations.command(track, name) is not None for name in names}
        for track, names in (("basics", LANGUAGES), ("intermediate", LANGUAGES), ("advanced", ADVANCED))
    }


def _measure(bench: Bench, results: dict, blocks: list[plan.Block]) -> None:
    present = results["implementations"]
    # Unrecorded warm-up: the first run on a fresh cluster pays for its cold caches.
    warm_up = dataclasses.replace(bench, samples=Samples(), requests=[])
    floor.measure_floor(warm_up, bench.settings.sizes[0], rep=0, workers=bench.settings.workers)
    progress = plan.Progress(blocks, bench.settings.budget_minutes * 60)
    try:
        _convergence(bench, blocks, progress)
    finally:
        results["plan"]["skipped"] = [block.as_json() for block in progress.skipped]
        results["plan"]["trimmed"] = [
            {**block.as_json(), "dropped": list(dropped)} for block, dropped in progress.trimmed
        ]
    listing.measure_list_pods(bench, [language for language in LANGUAGES if present["basics"][language]])
    for language in LANGUAGES:
        if present["intermediate"][language]:
            listing.measure_watch_pods(bench, language)
    cluster.measure_warm_starts(bench)


def _convergence(bench: Bench, blocks: list[plan.Block], progress: plan.Progress) -> None:
    # An implementation that failed at N (typically: a phase hit its time limit) is not run again at N or
    # above in later blocks: it would most likely fail again, an expensive way to learn nothing new.
    failed_at: dict[str, int] = {}
    for planned in blocks:
        block = progress.admit(planned)
        if block is None:
            continue
        say(f"block: N={block.size}, --workers {block.workers}, repetition {block.rep} ({block.kind}); "
            f"order: {', '.join(block.order)}")  # fmt: skip
        for who in block.order:
            key = {"language": who, "size": block.size, "workers": block.workers}
            if who in failed_at and block.size >= failed_at[who]:
                fail_phases(bench, list(PHASES), f"not run: failed at N={failed_at[who]}", block.rep, key)
                continue
            if who == FLOOR:
                completed = floor.measure_floor(bench, block.size, block.rep, block.workers)
            else:
                completed = convergence.measure_controller(bench, who, block.size, block.rep, block.workers)
            if not completed:
                failed_at[who] = min(block.size, failed_at.get(who, block.size))
            progress.run_done(who, block.size)


def _summaries(bench: Bench) -> dict:
    samples = bench.samples.as_json()
    audit_reason = "" if bench.audit_log.available() else (
        f"no audit log at {bench.audit_log.path}: the cluster was started before clusterkit enabled auditing; "
        "restart it (make cluster-down cluster-up)"
    )  # fmt: skip
    return {
        "finished": _now(),
        "cold_build": cluster.cold_build(),
        "samples": samples,
        "medians": stats.summarize(samples),
        "ratios": [
            *stats.paired_ratios(samples, "convergence", baseline=FLOOR),
            *stats.paired_ratios(samples, "written", baseline=FLOOR),
        ],
        "audit": {
            "available": bench.audit_log.available(),
            "reason": audit_reason,
            "runs": bench.requests,
            "medians": stats.median_requests(bench.requests),
        },
    }


def _render_and_publish(results: dict) -> None:
    """report.md and the plot next to results.json; then all three copied to docs/bench/, or to the directory of
    the run's opt-in measurement (settings.docs_dir)."""
    # Imported here, not at the top: matplotlib is the `tools[bench]` extra, needed only to draw, and the
    # unit tests of the rest of the bench run without it.
    from bench import plot

    (OUT_DIR / "report.md").write_text(report.render(results))
    plot.draw(results, OUT_DIR / "convergence.png")
    published = docs_dir(results["settings"])
    published.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        shutil.copy2(OUT_DIR / name, published / name)
    say(f"wrote {', '.join(str(OUT_DIR / name) for name in OUTPUTS)}; copied to {published}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
