"""The `eventlog` command line over the facade, `ingest` and `query` (see `eventlog.cli.app`)."""

from __future__ import annotations

from eventlog.cli.app import app, main

__all__ = ["app", "main"]
