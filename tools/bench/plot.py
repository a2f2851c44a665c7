"""convergence.png: convergence time against N, one line per language and the floor, log-log.

One panel per phase. Log scales on both axes make "linear in N" a line of slope 1 whatever the constant,
so a controller that scales worse than the floor shows as a steeper line, not just a higher one.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt

from bench.report import FLOOR, PHASES
from bench.settings import LANGUAGES

STYLE = {FLOOR: "kx--", "bash": "o-", "python": "s-", "go": "^-"}


def draw(results: dict, path: Path) -> None:
    figure, axes = plt.subplots(1, len(PHASES), figsize=(5 * len(PHASES), 4.2), sharey=True)
    for axis, phase in zip(axes, PHASES, strict=True):
        for language in (FLOOR, *LANGUAGES):
            points = sorted(
                (row["key"]["size"], row["median"])
                for row in results["medians"]
                if row["measure"] == "convergence"
                and row["key"]["language"] == language
                and row["key"]["phase"] == phase
                and row["median"] is not None
            )
            if points:
                sizes, times = zip(*points, strict=True)
                axis.plot(sizes, times, STYLE[language], label=language)
        axis.set(xscale="log", yscale="log", title=phase, xlabel="N (sites)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds until converged (median)")
    axes[0].legend()
    figure.suptitle(f"StaticSite convergence, {results['machine']['cpus']} CPUs, {results['finished'][:10]}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
