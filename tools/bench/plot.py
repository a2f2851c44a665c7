"""convergence.png: cost growth, per site against N, one line per implementation and the floor, log-log.

Four panels: seconds per site until Ready (create, update) or gone (delete), and the controller's peak
RSS per site. Each point is the median of the repetitions, its error bar their minimum to maximum (the
opt-in N = 10,000 is one repetition: no bar). Log scales on both axes make "linear in N" a flat line
whatever the constant, so an implementation whose cost per site grows with N shows as a rising line.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt

from bench.phases import CONVERGENCE, PHASES
from bench.settings import FLOOR

MARKERS = "os^vDP*X"


def _points(results: dict, measure: str, who: str, **key) -> list[tuple[int, float, float, float]]:
    """(N, median, min, max) per N, each divided by N, at the run's own --workers."""
    points = []
    for row in results["medians"]:
        wanted = {"language": who, "workers": results["settings"]["workers"], **key}
        if row["measure"] != measure or row["median"] is None:
            continue
        if any(row["key"].get(field) != value for field, value in wanted.items()):
            continue
        size = row["key"]["size"]
        points.append((size, row["median"] / size, row["min"] / size, row["max"] / size))
    return sorted(points)


def _draw_series(axis, points, label: str, style: str) -> None:
    if not points:
        return
    sizes, medians, lows, highs = zip(*points, strict=True)
    errors = [[m - low for m, low in zip(medians, lows, strict=True)],
              [high - m for m, high in zip(medians, highs, strict=True)]]  # fmt: skip
    axis.errorbar(sizes, medians, yerr=errors, fmt=style, capsize=3, label=label)


def draw(results: dict, path: Path) -> None:
    panels = [*PHASES, "peak RSS"]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2))
    implementations = list(results["implementations"]["advanced"])
    for axis, panel in zip(axes, panels, strict=True):
        for index, who in enumerate([FLOOR, *implementations]):
            style = "k--x" if who == FLOOR else f"-{MARKERS[index % len(MARKERS)]}"
            if panel in PHASES:
                points = _points(results, CONVERGENCE, who, phase=panel)
            elif who == FLOOR:
                continue  # the floor is a thread pool in the bench's process: no memory of its own
            else:
                points = [(n, m / 2**10, lo / 2**10, hi / 2**10) for n, m, lo, hi in _points(results, "peak_rss", who)]
            _draw_series(axis, points, who, style)
        unit = "KiB per site" if panel == "peak RSS" else "seconds per site"
        axis.set(xscale="log", yscale="log", title=panel, xlabel="N (sites)", ylabel=unit)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    figure.suptitle(f"StaticSite cost per site against N (median, min-max), {results['machine']['cpus']} CPUs, "
                    f"{results['finished'][:10]}")  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
