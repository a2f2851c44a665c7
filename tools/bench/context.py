"""What every measurement needs: the cluster, an admin client, the settings, and where results go."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client

from bench import audit
from bench.samples import Samples
from bench.settings import Settings

Window = tuple[float, float]  # (start, end), time.time() seconds


@dataclass
class Bench:
    cluster: object  # a clusterkit LocalCluster
    api: client.ApiClient  # admin: the bench's own requests, never audited
    settings: Settings
    audit_log: audit.AuditLog
    work_dir: Path  # logs, kubeconfigs, program output
    samples: Samples = field(default_factory=Samples)
    requests: list[dict] = field(default_factory=list)  # per run and window: counts by verb and resource

    def count_requests(
        self, who: str, size: int, rep: int, log_position: audit.Position, windows: dict[str, Window], *, workers: int
    ) -> None:
        """Count the audited requests of one run (from ``log_position`` on) in each of its windows.

        Besides the full breakdown, three totals per window become samples, so they get medians like
        every other figure: all requests, writes (Events excluded) and Event writes.
        """
        if not self.audit_log.available():
            return
        requests = self.audit_log.requests_since(log_position)
        key = {"language": who, "size": size, "workers": workers}
        for window, (start, end) in windows.items():
            in_window = audit.in_window(requests, start, end)
            counts = audit.count(in_window)
            agents = sorted({request.user_agent for request in in_window})
            self.requests.append({**key, "rep": rep, "window": window, "counts": counts, "user_agents": agents})
            self.samples.add("requests", sum(counts.values()), rep=rep, window=window, **key)
            self.samples.add("writes", audit.writes(counts), rep=rep, window=window, **key)
            self.samples.add("event_writes", audit.writes(counts, events=True), rep=rep, window=window, **key)
