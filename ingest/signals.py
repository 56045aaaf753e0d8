"""SIGTERM (pre-emption): let open logs mark their runs `preempted` and flush, then chain.

Schedulers (SLURM, Kubernetes, spot instances, torchelastic) send SIGTERM before they kill.
`install()` puts one process-wide handler in place (once, from the main thread; elsewhere it is a
no-op, since Python only lets the main thread set handlers). On SIGTERM the handler calls every
registered callback (each open `Log` registers one that stops its active runs with status
`preempted` and flushes, under a deadline) and then hands the signal on to whatever handler was
installed before: the user's own handler runs; if there was none (the default action), the
default is restored and the signal re-raised, so the process still dies of SIGTERM with the exit
status launchers expect; an ignored SIGTERM stays ignored.

A handler that the user installs *after* opening a log replaces this one; call
`ingest.signals.handle_sigterm()` from it to get the same behaviour.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["handle_sigterm", "install", "installed", "register", "unregister"]

_log = logging.getLogger("eventlog.signals")

_Callback = Callable[[bool], None]
_callbacks: dict[int, Any] = {}
_previous: Any = None
_installed = False
_installed_pid = 0
_handling = False
_lock = threading.Lock()


def register(callback: _Callback) -> int:
    """Call `callback(final)` on SIGTERM; returns a token for `unregister`.

    `final` is True when the process is about to die of the signal (no handler of the user's
    follows), so the callback should close what it owns. A bound method is held weakly.
    """
    token = id(callback) if not hasattr(callback, "__self__") else id(callback.__self__)  # type: ignore[attr-defined]
    ref: Any = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else callback  # type: ignore[arg-type]
    with _lock:
        _callbacks[token] = ref
    return token


def unregister(token: int) -> None:
    """Stop calling the callback registered under `token`."""
    with _lock:
        _callbacks.pop(token, None)


def installed() -> bool:
    """True if eventlog's SIGTERM handler is the current one."""
    return _installed and signal.getsignal(signal.SIGTERM) is _on_sigterm


def install() -> bool:
    """Install the SIGTERM handler, remembering the previous one. Idempotent.

    Returns:
        True if the handler is in place, False if it could not be (not the main thread).
    """
    global _installed, _installed_pid, _previous
    if installed() and _installed_pid == os.getpid():
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # embedded interpreters without signal support
        return False
    if previous is not _on_sigterm:
        _previous = previous
    _installed = True
    _installed_pid = os.getpid()
    return True


def handle_sigterm(final: bool = False) -> None:
    """Run every registered callback once (errors are logged, never raised); re-entrant calls are ignored.

    Args:
        final: tell the callbacks that the process is about to end.
    """
    global _handling
    if _handling:
        return
    _handling = True
    try:
        with _lock:
            callbacks = list(_callbacks.values())
        for ref in callbacks:
            callback = ref() if isinstance(ref, weakref.WeakMethod) else ref
            if callback is None:
                continue
            try:
                callback(final)
            except Exception as exc:  # the signal must still reach the user's handler
                _log.warning("eventlog: on SIGTERM, %s failed: %s: %s", callback, type(exc).__name__, exc)
    finally:
        _handling = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    previous = _previous
    # A forked child (a DataLoader worker) inherits the handler and the parent's logs, whose
    # flusher threads do not exist here: their runs and spools belong to the parent; just chain.
    if os.getpid() == _installed_pid:
        handle_sigterm(final=not callable(previous) and previous != signal.SIG_IGN)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:  # SIG_DFL (or None: set from C): die of SIGTERM as if we had never been here
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
