"""The error an integration raises when its framework is not installed."""

from __future__ import annotations

from eventlog.errors import ExtraNotInstalledError

__all__ = ["framework_missing"]


def framework_missing(module: str, package: str, exc: ImportError) -> ExtraNotInstalledError:
    """An `ExtraNotInstalledError` for `eventlog.integrations.<module>`, naming the pip command.

    Example:
        >>> raise framework_missing("lightning", "lightning", exc) from exc  # doctest: +SKIP
    """
    return ExtraNotInstalledError(
        f"eventlog.integrations.{module} needs {package}, which is not installed ({exc}): "
        f"pip install {package}, or pip install 'eventlog[integrations]' for every supported framework"
    )
