"""report.md: the results as tables, rendered from results.json alone (a pure function, unit-tested).

Every cell says what happened: a figure, "missing" (no implementation in that language yet), "failed" (it
ran and no repetition succeeded; results.json has the errors) or "not measured" (the bench did not take
that figure, e.g. no audit log). A failure is never shown as 0.
"""

from __future__ import annotations

from bench.phases import PHASES
from bench.settings import FLOOR, LANGUAGES
from bench.stats import lookup

MIB = 2**20


# ----- cells ----------------------------------------------------------------------------
def seconds(value: float) -> str:
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def milliseconds(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def mebibytes(value: float) -> str:
    return f"{value / MIB:.0f} MiB"


def number(value: float) -> str:
    return f"{value:g}"


def cell(row: dict | None, fmt, present: bool = True, statistic: str = "median") -> str:
    """One table cell from a summary row (see stats.summarize)."""
    if not present:
        return "missing"
    if row is None:
        return "not measured"
    if row[statistic] is None:
        return "failed"
    text = fmt(row[statistic])
    if row["failed"]:
        text += f" ({row['failed']} of {row['ok'] + row['failed']} failed)"
    return text


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _present(results: dict, track: str, language: str) -> bool:
    return language == FLOOR or results["implementations"][track].get(language, False)


# ----- sections -------------------------------------------------------------------------
def render(results: dict) -> str:
    sections = [
        _header(results),
        _how_to_read(),
        _convergence(results),
        _requests(results),
        _process(results),
        _programs(results),
        _cluster(results),
        _lines_of_code(results),
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def _header(results: dict) -> list[str]:
    machine, versions, settings = results["machine"], results["versions"], results["settings"]
    return [
        "# Benchmark: the Bash, Python and Go implementations compared",
        "",
        f"Measured on **{machine['hostname']}**, {results['finished'][:10]}: {machine['cpus']} CPUs "
        f"({machine['cpu_model']}), {machine['memory_gib']} GiB, Linux {machine['kernel']}, {machine['os']}.",
        f"Kubernetes {versions['kube_apiserver']}, etcd {versions['etcd']}, kwok {versions['kwok']} (the `local` "
        f"cluster); {versions['go']}, Python {versions['python']}, Bash {versions['bash']}, {versions['jq']}, "
        f"kubectl {versions['kubectl']}.",
        f"N = {', '.join(str(size) for size in settings['sizes'])} sites; repetitions: {settings['reps']}, medians "
        f"quoted. Regenerate with `make bench` (`BENCH_SIZES`, `BENCH_REPS`); raw samples in `results.json`.",
    ]


def _how_to_read() -> list[str]:
    return [
        "## How to read it",
        "",
        "- Every figure is the **median** of the repetitions, all taken in this one run on this one machine. "
        "Compare languages *within* a table; across machines only the ratios travel.",
        "- The **floor** is the same writes a controller must make (three server-side applies and one status "
        "patch per site), sent all at once by a client with no informer, queue or comparison. "
        "**(2.0x)** after a time means twice the floor's time, paired repetition by repetition: how much the "
        "controller adds to what the API server and the cluster cost anyway. Near 1 is the best possible "
        "(below 1 is noise: the repetitions are in `results.json`); the floor's delete has no finalizer to "
        "honour, so the delete ratio is mostly that cost.",
        "- **missing**: that language has no implementation yet; **failed**: it ran and no repetition "
        "succeeded (the errors are in `results.json`); *(k of n failed)*: the median is of the others.",
        "- Times are wall-clock on 2 cores shared by the control plane, the program and the bench: a "
        "slow program also slows the API server it waits for. None of this is asserted in a test.",
    ]


def _convergence(results: dict) -> list[str]:
    medians, ratios = results["medians"], results["ratios"]
    header = ["N", "phase", FLOOR, *LANGUAGES]
    rows = []
    for size in results["settings"]["sizes"]:
        for phase in PHASES:
            row = [f"{size:,}", phase]
            for language in (FLOOR, *LANGUAGES):
                summary = lookup(medians, "convergence", language=language, size=size, phase=phase)
                text = cell(summary, seconds, _present(results, "advanced", language))
                ratio = lookup(ratios, "convergence", language=language, size=size, phase=phase)
                row.append(f"{text} ({ratio['ratio']:.1f}x)" if ratio and summary and summary["median"] else text)
            rows.append(row)
    return [
        "## StaticSite controllers: convergence",
        "",
        "From the bench's first request of a phase until all N sites are Ready for their new generation "
        "(create, update: new content, so every Deployment rolls out) or gone (delete), seen through a watch.",
        "",
        *_table(header, rows),
        "",
        "![convergence time against N, log-log](convergence.png)",
    ]


def _requests(results: dict) -> list[str]:
    audit = results["audit"]
    title = "## API requests, from the API server's audit log"
    if not audit["available"]:
        return [title, "", f"Not measured: {audit['reason']}."]
    size = max(results["settings"]["sizes"])
    who = (FLOOR, *LANGUAGES)
    runs = {
        row["language"]: row["counts"] for row in audit["medians"] if row["size"] == size and row["window"] == "run"
    }
    labels = sorted({label for counts in runs.values() for label in counts})
    rows = [[f"`{label}`"] + [_count(results, runs, language, label) for language in who] for label in labels]
    rows += _write_summaries(results, size)
    return [
        title,
        "",
        f"Requests made with the controller's ServiceAccount during a whole run at N = {size:,} (start-up, "
        "create, no-op resync, update, delete; median of the repetitions), by verb and resource. The bench's "
        "own requests use admin credentials and are not audited. An informer may fill its cache with a watch "
        "that streams the current objects first (`sendInitialEvents=true`, as client-go does) instead of a "
        "list and then a watch: it then shows no `list`.",
        "",
        *_table(["request", *who], rows),
    ]


def _count(results: dict, runs: dict, language: str, label: str) -> str:
    if not _present(results, "advanced", language):
        return "missing"
    return number(runs[language].get(label, 0)) if language in runs else "not measured"


def _write_summaries(results: dict, size: int) -> list[list[str]]:
    medians = results["medians"]

    def per_site(language: str) -> str:
        row = lookup(medians, "writes", language=language, size=size, window="create")
        return cell(row, lambda value: f"{value / size:.2f}", _present(results, "advanced", language))

    def figure(measure: str, window: str, language: str) -> str:
        if language == FLOOR:
            return "—"  # the floor has no resync: it is told what to write
        row = lookup(medians, measure, language=language, size=size, window=window)
        return cell(row, number, _present(results, "advanced", language))

    def reconciles(language: str) -> str:
        if language == FLOOR:
            return "—"
        row = lookup(medians, "noop_reconciles", language=language, size=size)
        return cell(row, number, _present(results, "advanced", language))

    who = (FLOOR, *LANGUAGES)
    return [
        ["**writes per site, create phase** (Events excluded)", *(per_site(language) for language in who)],
        ["**writes during the no-op resync** (target 0)", *(figure("writes", "resync", lang) for lang in who)],
        ["Event writes during the no-op resync", *(figure("event_writes", "resync", lang) for lang in who)],
        ["reconciles during the no-op resync (N touched)", *(reconciles(language) for language in who)],
    ]


def _language_cells(results: dict, measure: str, track: str, fmt, statistic: str = "median", **key) -> list[str]:
    """One cell per language for ``measure`` with ``key``."""
    cells = []
    for language in LANGUAGES:
        row = lookup(results["medians"], measure, language=language, **key)
        cells.append(cell(row, fmt, _present(results, track, language), statistic))
    return cells


def _process(results: dict) -> list[str]:
    rows = []
    for size in results["settings"]["sizes"]:
        rows.append([f"{size:,}", "peak RSS", *_language_cells(results, "peak_rss", "advanced", mebibytes, size=size)])
        rows.append([f"{size:,}", "CPU time", *_language_cells(results, "cpu_seconds", "advanced", seconds, size=size)])
    rows.append(["any", "start-up to first reconcile", *_language_cells(results, "startup", "advanced", seconds)])
    return [
        "## The controller process",
        "",
        "Peak resident memory of the controller's whole process group (Bash: with its kubectl and jq "
        "children), sampled every 0.2 s; CPU time (user + system) of the process and every child it reaped, "
        "over the whole run; start-up: from exec until a site that existed before has its first status.",
        "",
        *_table(["N", "figure", *LANGUAGES], rows),
    ]


def _programs(results: dict) -> list[str]:
    pods = results["settings"]["pods"]
    rows = [
        [f"list-pods over {pods:,} pods: wall time",
         *_language_cells(results, "list_pods_seconds", "basics", seconds, pods=pods)],
        ["list-pods: peak RSS", *_language_cells(results, "list_pods_rss", "basics", mebibytes, pods=pods)],
        ["watch-pods: create's return → printed line, median",
         *_language_cells(results, "watch_latency", "intermediate", milliseconds)],
        ["watch-pods: create's return → printed line, p90",
         *_language_cells(results, "watch_latency", "intermediate", milliseconds, statistic="p90")],
        ["watch-pods: create call made → printed line, median",
         *_language_cells(results, "watch_latency_from_call", "intermediate", milliseconds)],
    ]  # fmt: skip
    return [
        "## list-pods and watch-pods",
        "",
        f"`list-pods -n NS -o json` over {pods:,} Pending pods (the output is checked: {pods:,} lines, or the run "
        "counts as failed); peak RSS is the kernel's maximum for the largest single process of the run (GNU "
        f"time's %M). watch-pods (`-o json`): {results['settings']['watch_events']} pods created one at a time; "
        "the time until their ADDED line is read from the program's stdout, counted from the create call's "
        "return (the API server has stored the pod; the event can be printed before its answer arrives, so "
        'values near or below 0 mean "as fast as the write itself") and from the moment the call was made.',
        "",
        *_table(["figure", *LANGUAGES], rows),
    ]


def _cluster(results: dict) -> list[str]:
    build = results["cold_build"]
    if build:
        cold = f"cold build of the six binaries on {build['finished'][:10]}: {seconds(build['seconds'])}"
    else:
        cold = "cold build: not recorded (the binaries were prebuilt or cached before build times were recorded)"
    warm = cell(lookup(results["medians"], "warm_start"), seconds)
    return [
        "## The `local` cluster",
        "",
        f"- {cold}",
        f"- warm start (binaries cached, new run directory) to `/readyz` and two Ready nodes: {warm} "
        f"(median of {results['settings']['warm_starts']})",
    ]


def _lines_of_code(results: dict) -> list[str]:
    loc = results["loc"]
    rows = []
    for track in ("basics", "intermediate", "advanced", "shared"):
        rows.append([track] + [number(loc[lang][track]) if track in loc[lang] else "missing" for lang in LANGUAGES])
    rows.append(["**total**"] + [f"**{sum(loc[lang].values())}**" for lang in LANGUAGES])
    return [
        "## Lines of code",
        "",
        'Non-blank lines that are not comments (nor Python docstrings), tests excluded; "shared" is code the '
        "tracks of a language share (Python `common`, Go `internal/cli`, Bash `lib`).",
        "",
        *_table(["track", *LANGUAGES], rows),
    ]
