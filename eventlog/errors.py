"""Every exception eventlog raises, in one place; all derive from `EventLogError`.

Leaves also inherit the matching built-in (`FileExistsError`, `ValueError`, `LookupError`, ...)
so that callers who catch the built-in keep working. The layers import their errors from here
(`eventlog.core`, `ingest`, `query` and the facade alike), and `eventlog` re-exports every one.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "ArtifactCorruptError",
    "BackgroundError",
    "BatchError",
    "BodyTooLargeError",
    "CommitRaceLostError",
    "CompactionError",
    "CorruptRecordError",
    "DamagedFileError",
    "DamagedFilesSkippedWarning",
    "EventLogError",
    "EventsQuarantinedWarning",
    "ExtraNotInstalledError",
    "InvalidFilterError",
    "InvalidNameError",
    "MetricNotFoundError",
    "NoActiveRunError",
    "NothingToPlotError",
    "RecoveryError",
    "RemoteError",
    "RemoteRejectedError",
    "RunNotFoundError",
    "StoreUnavailableError",
    "UnsafeArtifactError",
    "UnsafeGraceError",
    "UserError",
]


class EventLogError(Exception):
    """Root of every error raised by eventlog."""


class EventsQuarantinedWarning(EventLogError, UserWarning):
    """Events were refused by their destination and set aside in a quarantine file (the message says where)."""


# -- names and values (eventlog.core) ----------------------------------------------------------------
class InvalidNameError(EventLogError, ValueError):
    """An experiment name or key breaks a naming rule (the message says which rule)."""


# -- the store (eventlog.core) -------------------------------------------------------------------------
class AlreadyExistsError(EventLogError, FileExistsError):
    """A create-if-absent write found the object already there (another writer won, or a retry landed)."""


class StoreUnavailableError(EventLogError, OSError):
    """The store URI cannot be reached: it does not exist, has no credentials, or refuses access."""


class ArtifactCorruptError(EventLogError, OSError):
    """An artifact payload is missing, or its size or sha256 differs from the reference in its event."""


# -- logging (the facade, ingest) ---------------------------------------------------------------------
class UnsafeArtifactError(EventLogError, ValueError):
    """An artifact reference points outside its run's artifact area or destination, or a pickle is not trusted."""


class NoActiveRunError(EventLogError, RuntimeError):
    """An event was logged on an experiment handle that has no started run."""


class BackgroundError(EventLogError, RuntimeError):
    """The background flusher failed; raised by the next `log_*` or `flush()` call, chained to the cause."""


class RecoveryError(EventLogError, OSError):
    """Spooled events could not be published (the store failed); the spool is kept for a later try."""


class RemoteError(EventLogError, ConnectionError):
    """The collector could not be reached or kept failing; the events are kept and retried."""


class RemoteRejectedError(EventLogError, ValueError):
    """The collector refused a request (bad token, invalid events, too large); the message says why.

    Attributes:
        status: the HTTP status the collector answered with.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BatchError(EventLogError, ValueError):
    """A batch body is malformed: the message names the first bad event (index) and field.

    Attributes:
        index: position of the first bad event in the batch, or None (the body as a whole is bad).
        field: the bad field's name, or None.
    """

    def __init__(self, message: str, *, index: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.field = field


class BodyTooLargeError(EventLogError, ValueError):
    """A request body sent to the collector is larger than its limit (answered with HTTP 413)."""


# -- compaction and garbage collection (eventlog.compaction) ------------------------------------------
class CompactionError(EventLogError, RuntimeError):
    """A compaction could not commit (too many conflicts, or the store failed); nothing visible changed."""


class CommitRaceLostError(CompactionError):
    """Another compactor already merged some of the same inputs; this compactor's file is dropped."""


class UnsafeGraceError(EventLogError, ValueError):
    """The grace period is shorter than `MIN_GRACE`: running scans could lose files under them."""


# -- reading (query) ------------------------------------------------------------------------------------
class DamagedFileError(EventLogError, OSError):
    """A file of the store is not a readable segment (truncated, empty, garbage or foreign); `.paths` names them."""

    def __init__(self, message: str, paths: list[str] | None = None) -> None:
        super().__init__(message)
        self.paths = paths or []


class DamagedFilesSkippedWarning(EventLogError, UserWarning):
    """A read with `on_damaged="skip"` left damaged files out (the message says which)."""


class CorruptRecordError(EventLogError, ValueError):
    """A record of an imported file fails its checksum; `path` and `offset` (bytes) say where.

    Nothing of the source run is imported: a flipped bit must not become a silently wrong value.
    """

    def __init__(self, message: str, *, path: str, offset: int) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset


class ExtraNotInstalledError(EventLogError, ImportError):
    """A feature needs an optional extra that is not installed (the message names the pip command)."""


class InvalidFilterError(EventLogError, ValueError):
    """A filter cannot be applied: an unknown column, a bad regex or a malformed time (the message says which)."""


class RunNotFoundError(EventLogError, LookupError):
    """A negative run number (counting back from the latest) reaches past the first run."""


class MetricNotFoundError(EventLogError, LookupError):
    """No run of the experiment logged the metric asked for (the message lists the metrics there are)."""


class NothingToPlotError(EventLogError, LookupError):
    """No metric event matched what was asked to plot."""


# -- the command line (eventlog.cli) ------------------------------------------------------------------
class UserError(EventLogError, ValueError):
    """A command cannot do what was asked (exit code 1); the message says why and what to do."""
