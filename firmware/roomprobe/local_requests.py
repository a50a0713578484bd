"""Requests from the box's own command line to the running daemon: ``roomprobe ready``.

The daemon owns the line, the sound card and the lights, so a command typed at
the box does not test by itself: it leaves a request in the daemon's state table
(the outbox database; SQLite's WAL lets both open it), the daemon takes it within
a second, and writes its answer back there for the command to read. Through the
database rather than a socket, a request and its answer survive a daemon restart
and need no extra listener, permissions or port on the box.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from . import outbox as outbox_mod

REQUEST_KEY = "ready_request"
ANSWER_KEY = "ready_answer"


def ask(db: Path) -> str:
    """Leave a readiness request for the daemon; returns its id (answers carry it)."""
    request_id = str(uuid.uuid4())
    outbox_mod.write_state(db, REQUEST_KEY, json.dumps({"id": request_id, "at": time.time()}))
    return request_id


def answer_of(db: Path, request_id: str) -> dict[str, Any] | None:
    """The daemon's latest answer to ``request_id``: started, refused or done; None: none yet."""
    raw = outbox_mod.read_state(db, ANSWER_KEY)
    try:
        found = json.loads(raw) if raw else None
    except ValueError:
        return None
    return found if isinstance(found, dict) and found.get("id") == request_id else None


# -- the daemon's side ------------------------------------------------------------------------


def take(box: outbox_mod.Outbox) -> str | None:
    """The id of a request waiting for the daemon, taken (so it runs once); None: none."""
    raw = box.take_state(REQUEST_KEY)
    try:
        found = json.loads(raw) if raw else None
    except ValueError:
        return None  # a damaged request: nobody can be waiting for its answer
    if not isinstance(found, dict) or not isinstance(found.get("id"), str):
        return None
    return str(found["id"])[:64]


def answer(box: outbox_mod.Outbox, request_id: str, state: str, **details: Any) -> None:
    """Tell the command line what became of its request: started, refused or done."""
    box.set_state(ANSWER_KEY, json.dumps({"id": request_id, "state": state, **details},
                                         ensure_ascii=False))  # fmt: skip
