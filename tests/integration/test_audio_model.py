"""The demo's audio backend: the real analysis on the simulated room, through a real daemon.

A probe with ``audio.backend = "model"`` and the "broken-speaker" profile
must report, end to end through mosquitto to the hub's store, that one
loudspeaker is silent and that commune staff (room-audio) must act; a
"good" room must be ok. The healthy room is commissioned into the probe's
state folder on first use, as IT would at installation.
"""

from __future__ import annotations

import json
from pathlib import Path

from rig import Rig, wait_for

MODEL = {"backend": "model", "interval_s": 1.0, "sweep_s": 3.0}


def audio_results(rig: Rig, site: str) -> list[dict]:
    rows = rig.hub_query(
        "SELECT payload FROM messages WHERE schema = 'roomprobe.result.audio' AND site = ?", site
    )
    return [json.loads(r["payload"]) for r in rows]


def test_a_dead_speaker_is_reported_with_who_must_act(rig: Rig, tmp_path: Path):
    rig.start_broker()
    rig.hub()
    rig.probe("dak-ang", profile="broken-speaker", audio=MODEL)
    rig.probe("sa-loong", profile="good", audio=MODEL)
    bad = wait_for(lambda: audio_results(rig, "dak-ang"), timeout=60, what="a broken room's result")
    good = wait_for(lambda: audio_results(rig, "sa-loong"), timeout=60, what="a good room's result")
    parts = {c["check"]: c for c in bad[0]["components"]}
    assert parts["audio.speakers"]["reason"] == "audio.speaker_missing"
    assert parts["audio.speakers"]["actor"] == "room-audio"
    assert bad[0]["verdict"]["status"] == "fail"
    assert bad[0]["simulated"] is True
    assert good[0]["verdict"]["status"] == "ok", good[0]["components"]
    assert (tmp_path / "state" / "dak-ang" / "audio-reference.json").exists()
    assert bad[0]["metrics"]["room"]["sti"] is not None
