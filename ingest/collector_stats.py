"""The collector's counters: what it accepted and refused, served as Prometheus text at `/metrics`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

__all__ = ["CollectorStats"]


@dataclass
class CollectorStats:
    """Counters behind `GET /metrics` (guarded by `lock`; requests run in a thread pool)."""

    events: int = 0
    bytes: int = 0
    batches: int = 0
    segments_created: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    last_lag_s: float = 0.0
    max_lag_s: float = 0.0
    last_event_dt_ns: int = 0
    started: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reject(self, reason: str) -> None:
        """Count one rejected request."""
        with self.lock:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def accept(self, events: int, size: int, created: int, lag_s: float, newest_dt_ns: int) -> None:
        """Count one durable batch."""
        with self.lock:
            self.events += events
            self.bytes += size
            self.batches += 1
            self.segments_created += created
            self.last_lag_s = lag_s
            self.max_lag_s = max(self.max_lag_s, lag_s)
            self.last_event_dt_ns = max(self.last_event_dt_ns, newest_dt_ns)

    def prometheus(self) -> str:
        """The counters in the Prometheus text exposition format."""
        with self.lock:
            lines = [
                "# HELP eventlog_collector_events_total Events made durable.",
                "# TYPE eventlog_collector_events_total counter",
                f"eventlog_collector_events_total {self.events}",
                "# HELP eventlog_collector_bytes_total Request body bytes of accepted batches.",
                "# TYPE eventlog_collector_bytes_total counter",
                f"eventlog_collector_bytes_total {self.bytes}",
                "# HELP eventlog_collector_batches_total Batches accepted.",
                "# TYPE eventlog_collector_batches_total counter",
                f"eventlog_collector_batches_total {self.batches}",
                "# HELP eventlog_collector_segments_created_total Segments created (retries create none).",
                "# TYPE eventlog_collector_segments_created_total counter",
                f"eventlog_collector_segments_created_total {self.segments_created}",
                "# HELP eventlog_collector_rejected_total Requests rejected, by reason.",
                "# TYPE eventlog_collector_rejected_total counter",
            ]
            for reason in sorted(self.rejected) or ["none"]:
                lines.append(f'eventlog_collector_rejected_total{{reason="{reason}"}} {self.rejected.get(reason, 0)}')
            lag_seconds = (time.time_ns() - self.last_event_dt_ns) / 1e9 if self.last_event_dt_ns else 0.0
            lines += [
                "# HELP eventlog_collector_flush_lag_seconds Seconds from receiving the last batch to it being durable.",
                "# TYPE eventlog_collector_flush_lag_seconds gauge",
                f"eventlog_collector_flush_lag_seconds {self.last_lag_s:.6f}",
                "# HELP eventlog_collector_flush_lag_max_seconds Largest flush lag so far.",
                "# TYPE eventlog_collector_flush_lag_max_seconds gauge",
                f"eventlog_collector_flush_lag_max_seconds {self.max_lag_s:.6f}",
                "# HELP eventlog_collector_event_age_seconds Age of the newest durable event (dt).",
                "# TYPE eventlog_collector_event_age_seconds gauge",
                f"eventlog_collector_event_age_seconds {lag_seconds:.3f}",
                "# HELP eventlog_collector_uptime_seconds Seconds since the collector started.",
                "# TYPE eventlog_collector_uptime_seconds gauge",
                f"eventlog_collector_uptime_seconds {time.time() - self.started:.3f}",
            ]
        return "\n".join(lines) + "\n"
