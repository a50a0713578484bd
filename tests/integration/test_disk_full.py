"""A full disk on the probe and on the hub, on real processes and a real filesystem
(a small tmpfs filled to the last byte): a clear error, the state shown where people
look, recovery when space returns, and the delivery guarantee kept (issue 9).

Needs root (mount); the line tests already do.
"""

from __future__ import annotations

import contextlib
import errno
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from delivery_checks import assert_exactly_once, outbox_state, stable

from rig import Rig, wait_for

FAST = {"net": {"interval_s": 0.2, "monitor_interval_s": 0.1}, "audio": {"interval_s": 0.3}}


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where``; unmounted (lazily, so a process still
    holding a file cannot keep it mounted) even when the test fails."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
                   check=True)  # fmt: skip
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros until the filesystem says ENOSPC; the filler's path."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:  # unbuffered: nothing left to flush at close
        chunk = b"\0" * 65536
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        with contextlib.suppress(OSError):
            while True:  # the last bytes, a few at a time
                f.write(b"\0" * 512)
    return filler


def get_json(rig: Rig, path: str):
    with urllib.request.urlopen(f"{rig.web}{path}", timeout=10) as r:
        return json.loads(r.read())


def site_status(rig: Rig) -> dict:
    return get_json(rig, "/api/sites/dak-ang")


def events(rig: Rig) -> list[dict]:
    rows = rig.hub_query(
        "SELECT payload FROM messages WHERE site = 'dak-ang' AND schema = 'roomprobe.event' "
        "ORDER BY seq"
    )
    return [json.loads(r["payload"]) for r in rows]


def test_a_full_card_on_the_probe_is_shown_survived_and_recovered(rig: Rig):
    state = rig.tmp / "state" / "dak-ang"
    with small_disk(state, "16m") as disk:
        rig.start_broker()
        rig.hub()
        probe = rig.probe(**FAST)
        wait_for(lambda: rig.stored() >= 10, what="results before the card fills")
        filler = fill(disk)
        # The status goes straight to the broker (it never touches the card): the hub
        # shows the box's own verdict, and the system light.
        shown = wait_for(
            lambda: (s := site_status(rig))["verdicts"]["system"]["reason"] == "system.disk_full"
            and s,
            timeout=60, what="the probe to say its card is full",
        )  # fmt: skip
        system = shown["verdicts"]["system"]
        assert system["status"] == "fail" and system["actor"] == "probe"
        assert "SD card" in system["message"]["en"] and "Thẻ nhớ" in system["message"]["vi"]
        assert shown["leds"]["system"] != "ok"
        stored_while_full = rig.stored()
        time.sleep(5)  # full for a while: tests keep running, their results are not kept
        assert site_status(rig)["online"] and rig.stored() == stored_while_full
        assert probe.alive, probe.output()[-2000:]
        filler.unlink()  # space returns
        cleared = wait_for(
            lambda: [e for e in events(rig) if e["event"] == "fault_cleared"
                     and e["details"].get("cleared") == "system.disk_full"],
            timeout=60, what="the probe to report its card writable again",
        )  # fmt: skip
        not_kept = cleared[0]["details"]["not_kept"]
        assert not_kept > 0 and str(not_kept) in cleared[0]["message"]["en"]
        wait_for(lambda: site_status(rig)["verdicts"]["system"]["status"] == "ok",
                 what="the system verdict back to ok")  # fmt: skip
        wait_for(lambda: rig.stored() > stored_while_full + 10, what="results stored again")
        assert probe.alive
        probe.stop()
        last, waiting = outbox_state(state)
        wait_for(lambda: rig.stored() >= last - len(waiting) and stable(rig.stored),
                 what="the hub to catch up")  # fmt: skip
        figures = assert_exactly_once(rig)  # what was committed is all there, once
        assert "Traceback" not in probe.output()
        print(f"\nprobe card full: {not_kept} results not kept (counted and reported); "
              f"committed: {figures}")  # fmt: skip


def test_a_full_disk_on_the_hub_is_shown_survived_and_caught_up(rig: Rig):
    with small_disk(rig.hub_db.parent, "16m") as disk:
        rig.start_broker()
        hub = rig.hub(store_retry_s=1.0)
        probe = rig.probe(**FAST)
        wait_for(lambda: rig.stored() >= 10, what="results before the disk fills")
        filler = fill(disk)
        consumer = wait_for(
            lambda: (c := get_json(rig, "/api/health")["consumer"])["store_ok"] is False and c,
            timeout=90, what="the hub to report its store failing",
        )  # fmt: skip
        assert "full" in consumer["store_problem"], consumer
        with urllib.request.urlopen(f"{rig.web}/?lang=en", timeout=10) as r:
            board = r.read().decode()
        assert "The hub cannot store results" in board and "full" in board
        with urllib.request.urlopen(f"{rig.web}/?lang=vi", timeout=10) as r:
            assert "Máy chủ không lưu được kết quả" in r.read().decode()
        time.sleep(5)  # full for a while: the consumer retries, reconnects, retries
        assert hub.alive and probe.alive
        filler.unlink()
        wait_for(lambda: get_json(rig, "/api/health")["consumer"]["store_ok"], timeout=90,
                 what="the hub to store again")  # fmt: skip
        probe.stop()
        last, waiting = outbox_state(rig.tmp / "state" / "dak-ang")
        wait_for(lambda: rig.stored() >= last - len(waiting) and stable(rig.stored),
                 timeout=90, what="the hub to catch up with what waited on the broker")  # fmt: skip
        final = get_json(rig, "/api/health")["consumer"]
        hub.stop()
        figures = assert_exactly_once(rig)
        assert figures["lost"] == 0 and figures["duplicated"] == 0
        assert "Traceback" not in hub.output()
        print(f"\nhub disk full: {final['store_errors']} failed commits, then {figures}")
