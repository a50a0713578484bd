"""Checks of the whole-path delivery guarantee, shared by the delivery and fault tests.

DESIGN.md rule 2: every result and event the probe numbers is either still in its
outbox, stored by the hub exactly once, or (issue 9) reported dropped by the
outbox's bound; never lost silently, never stored twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from rig import Rig


def outbox_state(state_dir: Path) -> tuple[int, list[int]]:
    """(last sequence number issued, seq numbers still waiting) of a stopped probe."""
    db = sqlite3.connect(state_dir / "outbox.sqlite")
    try:
        last = db.execute("SELECT max(last) FROM sequence").fetchone()[0] or 0
        waiting = [json.loads(p)["seq"] for (p,) in db.execute("SELECT payload FROM outbox")]
    finally:
        db.close()
    return last, waiting


def stable(count, for_s: float = 1.0) -> bool:
    """True when ``count()`` does not change for ``for_s`` seconds."""
    first = count()
    time.sleep(for_s)
    return count() == first


def outbox_waiting(rig: Rig, site: str = "dak-ang") -> int:
    path = rig.tmp / "state" / site / "outbox.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    except sqlite3.OperationalError:  # created but not yet migrated
        return 0
    finally:
        db.close()


def stored_seqs(rig: Rig, site: str = "dak-ang") -> list[int]:
    rows = rig.hub_query(
        "SELECT seq FROM messages WHERE site = ? AND schema != 'roomprobe.status' ORDER BY seq",
        site,
    )
    return [r["seq"] for r in rows]


def assert_exactly_once(
    rig: Rig, site: str = "dak-ang", dropped: set[int] | frozenset[int] = frozenset()
) -> dict[str, int]:
    """Every seq the probe issued is stored once, still waiting in its outbox, or in
    ``dropped`` (the numbers the probe reported its bound dropped).

    A message can be both stored and waiting: stored, but its PUBACK had not reached
    the probe when it stopped. It is sent again later and the hub drops the copy.
    """
    last, waiting = outbox_state(rig.tmp / "state" / site)
    stored = stored_seqs(rig, site)
    issued = set(range(1, last + 1))
    assert len(stored) == len(set(stored)), "a message was stored twice"
    assert not set(stored) & set(dropped), "a message reported dropped was stored"
    assert set(stored) | set(waiting) | set(dropped) == issued, "a message was lost"
    assert not set(stored) - issued, "the hub stored a seq never issued"
    return {
        "published": last,
        "stored": len(stored),
        "waiting": len(waiting),
        "stored_and_waiting": len(set(stored) & set(waiting)),
        "dropped": len(dropped),
        "lost": len(issued - set(stored) - set(waiting) - set(dropped)),
        "duplicated": len(stored) - len(set(stored)),
    }
