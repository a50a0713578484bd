"""``roomprobe audio test`` and ``commission`` on the real ALSA path, as IT staff run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulse_rig import Pulse, pulse_session
from rig import probe_toml

AUDIO = {
    "capture_device": "pulse",
    "playback_device": "pulse",
    "sweep_s": 2.0,
    "pre_silence_s": 0.5,
    "tail_s": 0.5,
}


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    yield from pulse_session(tmp_path_factory.mktemp("pulse"))


def roomprobe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roomprobe.cli", *args],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip


def config(tmp_path: Path, **audio: object) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(probe_toml("dak-ang", 1883, tmp_path / "state", audio={**AUDIO, **audio}))
    return path


def test_test_prints_each_component_and_saves_the_recording(pulse: Pulse, tmp_path: Path):
    done = roomprobe("audio", "test", "--json", "--save", str(tmp_path / "rec"),
                     "--config", str(config(tmp_path)))  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["metrics"]["channels_present"] == [0, 1]
    assert {c["check"] for c in doc["components"]} >= {"audio.mixer", "audio.probe"}
    again = roomprobe("audio", "analyze", str(tmp_path / "rec" / "capture.wav"), "--stimulus",
                      str(tmp_path / "rec" / "stimulus.wav"), "--json",
                      "--config", str(config(tmp_path)))  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert abs(json.loads(again.stdout)["metrics"]["electrical"]["gain_db"]) < 0.5


def test_commission_keeps_the_reference(pulse: Pulse, tmp_path: Path):
    done = roomprobe("audio", "commission", "--config", str(config(tmp_path)))
    assert done.returncode == 0, done.stderr
    ref = json.loads((tmp_path / "state" / "audio-reference.json").read_text())
    assert ref["version"] == 1 and abs(ref["electrical_latency_ms"]) < 0.1
    assert "reference saved" in done.stdout


def test_a_missing_interface_is_one_sentence(pulse: Pulse, tmp_path: Path):
    done = roomprobe("audio", "test", "--config",
                     str(config(tmp_path, capture_device="hw:CARD=NoSuchCard")))  # fmt: skip
    assert done.returncode == 69
    assert "Traceback" not in done.stderr
    assert "NoSuchCard" in done.stderr and "cannot be used" in done.stderr
