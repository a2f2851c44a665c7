"""The raw figures of a run: every attempt is kept, successful or failed, with what it measured."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Sample:
    measure: str  # e.g. "convergence", "startup", "peak_rss"
    key: dict[str, str | int]  # what it is a figure of, e.g. {"language": "go", "size": 100, "phase": "create"}
    rep: int  # which repetition (0 when the measure is taken once)
    value: float | None  # seconds, bytes or a count; None when the attempt failed
    error: str = ""  # why it failed


@dataclass
class Samples:
    rows: list[Sample] = field(default_factory=list)

    def add(self, measure: str, value: float, *, rep: int = 0, **key: str | int) -> None:
        self.rows.append(Sample(measure, key, rep, value))

    def fail(self, measure: str, error: str, *, rep: int = 0, **key: str | int) -> None:
        self.rows.append(Sample(measure, key, rep, None, error))

    def as_json(self) -> list[dict]:
        return [asdict(row) for row in self.rows]
