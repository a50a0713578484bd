"""Requests from the box's own command line to the running daemon: ``roomprobe ready``.

The daemon owns the line, the sound card and the lights, so a command typed at
the box does not test by itself: it leaves a request in the daemon's state table
(the outbox database; SQLite's WAL lets both open it), the daemon takes it within
a second, and writes its answer back there for the command to read. Through the
database rather than a socket, the box needs no extra listener, permission or
port. Each request has its own key and its own answer, so two commands at once
each get theirs; a request not taken within ``MAX_AGE_S`` (the daemon was busy or
stopped) is dropped, never run later unasked; and every answer names the daemon
instance that gave it, so a command waiting on a check under way learns when the
daemon restarted and the check was lost.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from . import outbox as outbox_mod

REQUEST_PREFIX = "ready_request:"
ANSWER_PREFIX = "ready_answer:"
INSTANCE_KEY = "daemon_instance"
#: A request older than this is not taken: the command has given up waiting for it.
MAX_AGE_S = 15.0


def ask(db: Path) -> str:
    """Leave a readiness request for the daemon; returns its id (its answer carries it)."""
    request_id = str(uuid.uuid4())
    outbox_mod.write_state(db, REQUEST_PREFIX + request_id, json.dumps({"at": time.time()}))
    return request_id


def answer_of(db: Path, request_id: str) -> dict[str, Any] | None:
    """The daemon's latest answer to ``request_id``: started, refused or done; None: none yet."""
    return _loads(outbox_mod.read_state(db, ANSWER_PREFIX + request_id))


def instance_of(db: Path) -> str | None:
    """The running daemon's instance (a new one at every start)."""
    return outbox_mod.read_state(db, INSTANCE_KEY)


def forget(db: Path, request_id: str) -> None:
    """The command is done with its request: remove it and its answer."""
    outbox_mod.delete_state(db, REQUEST_PREFIX + request_id)
    outbox_mod.delete_state(db, ANSWER_PREFIX + request_id)


def _loads(raw: str | None) -> dict[str, Any] | None:
    try:
        found = json.loads(raw) if raw else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


# -- the daemon's side ------------------------------------------------------------------------


def take(box: outbox_mod.Outbox, now: float | None = None) -> list[str]:
    """The ids of the requests waiting for the daemon, taken (so each runs once); stale or
    damaged ones are dropped."""
    now = time.time() if now is None else now
    fresh = []
    for key, raw in box.take_states(REQUEST_PREFIX):
        found = _loads(raw)
        at = found.get("at") if found else None
        if isinstance(at, int | float) and now - at <= MAX_AGE_S:
            fresh.append(key.removeprefix(REQUEST_PREFIX)[:64])
    return fresh


def answer(box: outbox_mod.Outbox, request_id: str, instance: str, state: str,
           **details: Any) -> None:  # fmt: skip
    """Tell a command what became of its request: started, refused or done."""
    body = {"id": request_id, "state": state, "instance": instance, **details}
    box.set_state(ANSWER_PREFIX + request_id, json.dumps(body, ensure_ascii=False))
