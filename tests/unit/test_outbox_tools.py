"""The outbox as operators see it: read-only counts, and re-sending refused messages."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from roomprobe import outbox
from roomprobe.contract import Stamp, topics
from roomprobe.texts import text


def fill(path, n: int) -> outbox.Outbox:
    box = outbox.Outbox(path, str(uuid.uuid4()))
    stamp = Stamp("dak-ang", box.boot_id, lambda: True)
    for _ in range(n):
        box.put(
            topics.event("dak-ang"),
            lambda seq: stamp.envelope(
                "roomprobe.event", seq, event="button", message=text("event.started"), details={}
            ),
        )
    return box


def test_inspect_counts_without_writing(tmp_path):
    path = tmp_path / "outbox.sqlite"
    box = fill(path, 3)
    rows = box.pending(10)
    box.reject(rows[0].id, "Not authorized")
    box.close()
    before = path.read_bytes()
    counts = outbox.inspect(path)
    waiting_bytes = sum(len(r.payload) for r in rows[1:])
    assert counts == {"waiting": 2, "rejected": 1, "last_seq": 3,
                      "waiting_bytes": waiting_bytes, "dropped": 0}  # fmt: skip
    assert path.read_bytes() == before


def test_requeued_messages_are_sent_again_in_their_order(tmp_path):
    path = tmp_path / "outbox.sqlite"
    box = fill(path, 4)
    first, second, *_ = box.pending(10)
    box.reject(second.id, "Not authorized")
    box.reject(first.id, "Not authorized")
    box.remove(box.pending(10)[0].id)  # the third was delivered meanwhile
    assert outbox.requeue_rejected(path) == 2
    seqs = [json.loads(r.payload)["seq"] for r in box.pending(10)]
    assert seqs == [4, 1, 2]  # the waiting one, then the refused ones in their order
    assert box.rejected_count() == 0
    box.close()


def test_outbox_command_reports_and_requeues(tmp_path):
    state = tmp_path / "state"
    box = fill(state / "outbox.sqlite", 2)
    box.reject(box.pending(1)[0].id, "Not authorized")
    box.close()
    conf = tmp_path / "p.toml"
    conf.write_text(f'site = "dak-ang"\n[paths]\nstate_dir = "{state}"\n')
    run = [sys.executable, "-m", "roomprobe.cli", "outbox", "--config", str(conf)]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert "waiting to be sent: 1" in out and "refused by the broker: 1" in out
    assert "dropped, oldest first, because the outbox was full: 0" in out
    out = subprocess.run([*run, "--requeue-rejected"], capture_output=True, text=True).stdout
    assert "1 refused messages put back" in out and "waiting to be sent: 2" in out
