"""Pinned snapshots: file lists that gc keeps for a stated time, for jobs that read longer than gc's grace.

A reader's file list stays valid for gc's grace period (at least `MIN_GRACE`, 300 s, unless gc is
forced). A job that needs longer (a Spark job over a month of data, a copy to another bucket)
pins its list: `_pins/<id>.json` names the files and how long to hold them, and gc deletes none of
them until the pin's storage time plus its hold has passed (or the pin is removed). Expired pins are
deleted by gc. The expiry is judged by the storage's clock (the pin object's mtime), as gc judges
every other age.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from eventlog.core import layout
from eventlog.core.store import Store

#: The shortest grace period gc accepts without `force` (seconds): every reader's file list stays
#: valid at least this long.
MIN_GRACE = 300.0

__all__ = ["MIN_GRACE", "Pin", "active_pins", "expired_pins", "read_pin", "remove_pin", "write_pin"]


@dataclass(frozen=True)
class Pin:
    """One pinned file list.

    Attributes:
        id: the pin's id (its file is `_pins/<id>.json`).
        files: the pinned paths, relative to the store root.
        hold: seconds gc keeps the files, from the pin's creation (storage time).
        created: the pin's creation time, seconds since the epoch by the storage's clock.
    """

    id: str
    files: list[str]
    hold: float
    created: float

    @property
    def expires(self) -> float:
        """When gc may delete the files again (seconds since the epoch, storage time)."""
        return self.created + self.hold


def _path(pin_id: str) -> str:
    if not pin_id or not all(c.isalnum() or c == "-" for c in pin_id):
        raise ValueError(f"{pin_id!r} is not a pin id (letters, digits and '-', as `pin_files` returns them)")
    return f"{layout.PINS}/{pin_id}.json"


def write_pin(store: Store, files: list[str], hold: float) -> Pin:
    """Pin `files` (paths relative to the root) for `hold` seconds; returns the pin.

    Raises:
        ValueError: `hold` is not positive.
    """
    if not hold > 0:
        raise ValueError(f"hold must be a positive number of seconds, got {hold}")
    pin_id = uuid.uuid4().hex
    store.create(_path(pin_id), json.dumps({"files": files, "hold": hold}).encode())
    return read_pin(store, pin_id)


def read_pin(store: Store, pin_id: str) -> Pin:
    """The pin `pin_id`.

    Raises:
        FileNotFoundError: there is no such pin (never made, removed, or expired and collected).
        ValueError: `pin_id` is not a pin id.
    """
    path = _path(pin_id)
    infos = [f for f in store.find(layout.PINS) if f.path == path]
    if not infos:
        raise FileNotFoundError(f"no pin {pin_id!r} in {store.uri} (removed, or expired and collected by gc)")
    body = json.loads(store.read(path))
    return Pin(pin_id, list(body["files"]), float(body["hold"]), infos[0].mtime)


def remove_pin(store: Store, pin_id: str) -> None:
    """Remove a pin: gc may delete its files again (after their own grace period).

    Raises:
        ValueError: `pin_id` is not a pin id.
    """
    store.delete([_path(pin_id)])


def _pins(store: Store) -> list[Pin]:
    found = []
    for info in store.find(layout.PINS):
        pin_id = info.path.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            body = json.loads(store.read(info.path))
            found.append(Pin(pin_id, list(body["files"]), float(body["hold"]), info.mtime))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            continue  # removed meanwhile, or not a pin: it protects nothing
    return found


def active_pins(store: Store, now: float) -> list[Pin]:
    """The pins still holding their files at storage time `now`."""
    return [pin for pin in _pins(store) if pin.expires > now]


def expired_pins(store: Store, now: float) -> list[Pin]:
    """The pins whose hold has passed at storage time `now` (gc deletes them)."""
    return [pin for pin in _pins(store) if pin.expires <= now]
