"""The built SD image boots under qemu, takes its site's bundle and reports to a real broker.

Not in the default run (it needs a built image and takes minutes): run it with
``scripts/boot-test`` (or ``scripts/test tests/image --image dist/roomprobe-…img.xz``).

The district's flow, as IT staff run it: ``roomhub pki init`` and ``site add`` on
this machine, ``site write-image`` onto a copy of the generic image, then the box
boots (the image's own kernel, initrd and root) with simulated room hardware
(no Pi here) and its retained status must reach the TLS broker with the site's
own account. The card is then checked as a PC would see it: the secrets have
left the boot partition, the root partition is bit for bit what was flashed
(read-only root), the data partition holds the box's identity and has grown to
fill the card. A second boot, after a power cut, must report again with the
same identity.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.client import CallbackAPIVersion, MQTTv5

from qemu_box import (
    HOST_FROM_GUEST,
    QemuBox,
    after_power_cut,
    decompress,
    ext4_blocks,
    ext4_read,
    extract,
    fat_list,
    fat_read,
    journal,
    partitions,
)
from roomhub import access, provision
from roomhub.broker import Broker, free_port
from roomhub.cli import main as roomhub
from roomprobe import tomlconfig
from roomprobe.contract import topics

SITE = "qemu-box"
GROW_BY = 512 << 20  # the "card" is this much larger than the image
BOOT_TIMEOUT_S = 900  # a full Debian boot and a Python start under TCG emulation


class Statuses:
    """The hub's view: every status of SITE the broker delivers, with its arrival time."""

    def __init__(self, port: int, password: str, ca: Path):
        self.got: list[tuple[float, dict]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTv5)
        self.client.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.username_pw_set(access.HUB_USER, password)
        self.lock = threading.Lock()

        def on_message(_c, _u, msg: mqtt.MQTTMessage) -> None:
            with self.lock:
                self.got.append((time.monotonic(), json.loads(msg.payload)))

        self.client.on_message = on_message
        self.client.on_connect = lambda c, *_: c.subscribe(topics.status(SITE), qos=1)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def first_after(self, t0: float, boot_id: str | None = None) -> tuple[float, dict] | None:
        with self.lock:
            for t, s in self.got:
                if t >= t0 and s.get("online") and s.get("boot_id") != boot_id:
                    return t, s
        return None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def district(tmp_path: Path) -> Iterator[tuple[Broker, Path, provision.Layout]]:
    """A district hub's security set up with the real commands; the broker on a free port."""
    port = free_port()
    conf = tmp_path / "hub.toml"
    conf.write_text(tomlconfig.dumps({
        "hub_id": "boot-test",
        "security": {"dir": tmp_path / "security", "broker_host": HOST_FROM_GUEST,
                     "broker_port": port, "broker_pid_file": tmp_path / "mosquitto.pid"},
    }), encoding="utf-8")  # fmt: skip
    # The box reaches the broker at 10.0.2.2, the test's own subscriber at 127.0.0.1.
    assert roomhub(["pki", "init", "--config", str(conf), "--hostname", HOST_FROM_GUEST,
                    "--hostname", "127.0.0.1"]) == 0  # fmt: skip
    lay = provision.Layout(tmp_path / "security")
    broker = Broker(tmp_path / "broker", port=port, security=lay.security()).start()
    try:
        (tmp_path / "mosquitto.pid").write_text(str(broker.proc.pid))
        yield broker, conf, lay
    finally:
        broker.stop()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def boot_until_status(card: Path, folder: Path, hub: Statuses, not_boot: str | None):
    folder.mkdir()
    box = QemuBox(card, folder).start()
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while (seen := hub.first_after(box.started, not_boot)) is None:
            if not box.alive():
                raise AssertionError("qemu stopped before the status came:\n"
                                     + box.console_text()[-4000:])  # fmt: skip
            if time.monotonic() > deadline:
                raise AssertionError(f"no status within {BOOT_TIMEOUT_S} s:\n"
                                     + box.console_text()[-4000:])  # fmt: skip
            time.sleep(1)
        took = seen[0] - box.started
        print(f"\nboot to first MQTT status under qemu: {took:.0f} s")
        # The power is cut only once the identity is on the data partition (the box says
        # so on its console); the first boot makes SSH keys, slow under emulation.
        while "identity is kept on /data" not in box.console_text():
            if time.monotonic() > deadline or not box.alive():
                raise AssertionError("roomprobe-persist did not finish:\n"
                                     + box.console_text()[-4000:])  # fmt: skip
            time.sleep(1)
        time.sleep(3)
        return box, seen[1], took
    except BaseException:
        box.stop()
        raise


def test_the_image_boots_takes_its_bundle_and_reports(
    image: Path, tmp_path: Path, district: tuple[Broker, Path, provision.Layout]
):
    broker, conf, lay = district
    card = decompress(image, tmp_path / "card.img")
    flashed = partitions(card)
    assert [p.type.lower().removeprefix("0x") for p in flashed] == ["c", "83", "83"]
    root_before = sha256(extract(card, flashed[1], tmp_path / "root-before.ext4"))
    generic = fat_list(card, flashed[0])
    assert not any("mqtt-password" in f for f in generic), "a secret in the generic image"

    # The district's provisioning, as the docs tell IT staff to do it.
    assert roomhub(["site", "add", SITE, "--name", "Phòng họp thử", "--hardware", "simulated",
                    "--config", str(conf)]) == 0  # fmt: skip
    assert roomhub(["site", "write-image", SITE, str(card), "--config", str(conf)]) == 0
    with open(card, "r+b") as f:  # a larger card than the image
        f.truncate(card.stat().st_size + GROW_BY)
    hub_password = (lay.hub_secret).read_text().strip()
    hub = Statuses(broker.port, hub_password, lay.ca.cert)
    try:
        box, status, first_s = boot_until_status(card, tmp_path / "boot1", hub, None)
        console = box.console_text()
        box.stop()  # a power cut: qemu ends the machine without a shutdown
        assert status["site"] == SITE
        boot1 = status["boot_id"]

        # The card as a PC sees it after the first boot.
        now = partitions(card)
        listing = fat_list(card, now[0])
        assert not any(n.startswith("roomprobe/") and n.endswith(("mqtt-password",
                       "roomprobe.toml")) for n in listing), listing  # fmt: skip
        note = fat_read(card, now[0], "roomprobe/DA-NHAN-INSTALLED.txt")
        assert note is not None and SITE.encode() in note
        assert sha256(extract(card, now[1], tmp_path / "root-after.ext4")) == root_before, (
            "the root partition changed: the root file system is not read-only"
        )
        assert now[2].size > flashed[2].size + GROW_BY // 2, "the data partition did not grow"
        data = after_power_cut(extract(card, now[2], tmp_path / "data.ext4"))
        assert ext4_blocks(data) * 4096 > flashed[2].size + GROW_BY // 2
        assert ext4_read(data, "/persist/etc/hostname") == f"roomprobe-{SITE}\n".encode()
        machine_id = ext4_read(data, "/persist/etc/machine-id")
        assert machine_id and len(machine_id.strip()) == 32
        assert ext4_read(data, "/persist/etc/ssh/ssh_host_ed25519_key") is not None
        password = (lay.bundle(SITE) / "mqtt-password").read_bytes()
        assert ext4_read(data, "/roomprobe/mqtt-password") == password
        assert b"site = " in (ext4_read(data, "/etc-roomprobe/roomprobe.toml") or b"")
        # What the box logged (its journal, kept on the data partition).
        log = journal(data, tmp_path / "journal1")
        (tmp_path / "journal1.txt").write_text(log)
        assert "Using hardware watchdog" in log
        failed = [line for line in log.splitlines() if "Failed to start" in line]
        assert not failed, "\n".join(failed)
        assert "took the bundle of qemu-box" in log
        assert "Failed to start" not in console, console[-3000:]
        assert "overlayroot" in console and "Failure: overlayroot" not in console

        # Second boot after the power cut: same box, same identity, reports again.
        box2, status2, second_s = boot_until_status(card, tmp_path / "boot2", hub, boot1)
        box2.stop()
        assert status2["site"] == SITE and status2["boot_id"] != boot1
        data2 = after_power_cut(extract(card, partitions(card)[2], tmp_path / "data2.ext4"))
        assert ext4_read(data2, "/persist/etc/machine-id") == machine_id
        console2 = (tmp_path / "boot2" / "console.log").read_text(errors="replace")
        assert f"roomprobe-{SITE} login:" in console2  # the host name came back too
        log2 = journal(data2, tmp_path / "journal2")
        assert "generating new host keys" not in log2.split("-- Boot")[-1]  # same SSH keys
        print(f"first boot {first_s:.0f} s, second boot {second_s:.0f} s to the first status")
    finally:
        hub.close()
