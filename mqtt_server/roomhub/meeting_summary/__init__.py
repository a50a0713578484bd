"""After a meeting: what each room's probe saw before and during it, kept in the store.

Issue 8 asks the district to know, after a meeting, which rooms were ready
before it and what went wrong while people met. The probes already publish
everything needed; this package reads it back per meeting and per room:

- **before**: the room's last ``roomprobe.result.readiness`` whose
  ``meeting_id`` is this meeting (state, each part's verdict, who must act), or
  none at all;
- **during** the window [start, end], by the probe's own ``ts`` (results that a
  probe's outbox delivers late after an outage still land in the window they
  were measured in): the light probes' ``roomprobe.result.monitor`` windows
  (how many, how many the probe judged degraded or failing, median and worst
  RTT, jitter and loss, the lowest call quality, the passive audio watch's
  clipping, dropouts, hum and feedback); ``roomprobe.event`` faults (and
  faults already standing at the start), meeting mode and skipped tests;
  silences (no measurement for longer than two monitor windows, at least
  ``MIN_SILENCE``), spans when the hub heard nothing live from the probe
  (``received_at``), windows that arrived late and sequence numbers missing;
- one line per room in Vietnamese and English.

**Stored**, in ``meeting_summaries``, because message retention deletes the
messages the summary is made from, and the summary is what people look back
at. A summary is computed once a meeting has been over for ``GRACE`` (the last
monitor windows are still on their way at the end), and computed again, for
``RECOMPUTE_FOR`` after the end, whenever a message whose ``ts`` falls in the
meeting's reach arrives after the last computation: a probe cut off during the
meeting delivers its outbox when its line comes back, and the summary must
then say what really happened. Meetings up to ``BACKFILL`` old that have no
summary yet (a hub that was down, a store made before this table) get one, at
most ``MAX_PER_ROUND`` meetings per round, by the ``Summarizer`` thread.

Nothing here may stop the hub: a stored payload that cannot be read is counted
(``skipped``) and left out; a meeting with no room is summarised as such.

One concern a module, each depending only on those above it:

- ``words``: the texts, Vietnamese then English, and the dashboard's labels;
- ``records``: a stored message read into what the summary is made of;
- ``describe``: what a person reads (the room's one line, the page, the console);
- ``room``: one room's summary from its messages (pure);
- ``compute``: a meeting's summary from the store;
- ``storage``: stored summaries, and which meetings are due;
- ``worker``: the ``Summarizer`` thread.

What the rest of the hub uses is imported here.
"""

from __future__ import annotations

from .compute import READINESS_LOOKBACK, compute, sites_of
from .describe import as_text, describe, overall
from .records import MARGIN, MIN_SILENCE, NONE, NOT_READY, READY, STATES, UNKNOWN, Msg
from .room import DEFAULT_INTERVAL_S, summarize_room
from .storage import (
    BACKFILL,
    GRACE,
    LOCK_KEY,
    MAX_PER_ROUND,
    MEETING_ROW,
    RECHECK_SLACK,
    RECOMPUTE_FOR,
    due,
    find_meeting,
    for_meeting,
    save,
    state_of,
    stored,
    stored_counts,
    stored_starting,
)
from .words import ACTORS, LABELS, TEXTS, say
from .worker import ROUND_S, Summarizer

__all__ = [
    "ACTORS",
    "BACKFILL",
    "DEFAULT_INTERVAL_S",
    "GRACE",
    "LABELS",
    "LOCK_KEY",
    "MARGIN",
    "MAX_PER_ROUND",
    "MEETING_ROW",
    "MIN_SILENCE",
    "NONE",
    "NOT_READY",
    "READINESS_LOOKBACK",
    "READY",
    "RECHECK_SLACK",
    "RECOMPUTE_FOR",
    "ROUND_S",
    "STATES",
    "TEXTS",
    "UNKNOWN",
    "Msg",
    "Summarizer",
    "as_text",
    "compute",
    "describe",
    "due",
    "find_meeting",
    "for_meeting",
    "overall",
    "save",
    "say",
    "sites_of",
    "state_of",
    "stored",
    "stored_counts",
    "stored_starting",
    "summarize_room",
]
