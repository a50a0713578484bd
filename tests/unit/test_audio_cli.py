"""``roomprobe audio analyze``: WAV files in, verdicts out; mistakes get a sentence, not a trace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from roomprobe.audio import active
from roomprobe.audio.room import Room
from roomprobe.audio_cli import read_wav, write_wav
from roomprobe.cli import main
from roomprobe.config import AudioConfig

NO_CONFIG = ["--config", "/nonexistent/roomprobe.toml"]


def render(room: Room, fs: int = 48000, sweep_s: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    cfg = AudioConfig(rate=fs, sweep_s=sweep_s)
    sweep = active.make_sweep(cfg)
    played = active.stimulus(sweep, cfg.pre_silence_s, cfg.tail_s)
    return room.render(played, seed=3), played


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("wav")
    good, played = render(Room(), sweep_s=6.0)  # the probe's own default sweep
    clip, _ = render(Room().with_faults(amp_clip=0.3), sweep_s=6.0)
    out = {"good": d / "good.wav", "clip": d / "clip.wav", "stim": d / "stim.wav"}
    write_wav(out["good"], 48000, good)
    write_wav(out["clip"], 48000, clip)
    write_wav(out["stim"], 48000, played[:, :1])
    return out


def test_a_good_room_reads_ok_in_both_languages(wavs, capsys):
    assert main(["audio", "analyze", str(wavs["good"]), *NO_CONFIG]) == 0
    out = capsys.readouterr().out
    assert "Âm thanh đạt yêu cầu" in out and "The audio chain is working" in out
    assert "12.67 ms" in out  # the nearest loudspeaker: 4 m of air and the mixer twice


def test_json_names_the_component_and_who_acts(wavs, capsys):
    assert main(["audio", "analyze", str(wavs["clip"]), "--json", *NO_CONFIG]) == 1
    doc = json.loads(capsys.readouterr().out)
    speakers = next(c for c in doc["components"] if c["check"] == "audio.speakers")
    assert speakers["reason"] == "audio.distortion" and speakers["actor"] == "room-audio"
    assert doc["metrics"]["acoustic"]["thd_pct"] > 20


def test_a_given_stimulus_is_recognised_as_a_sweep(wavs, capsys):
    code = main(["audio", "analyze", str(wavs["good"]), "--stimulus", str(wavs["stim"]),
                 "--json", *NO_CONFIG])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metrics"]["electrical"]["latency_ms"] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("fs", [44100, 32000, 22050, 16000, 8000])
def test_other_rates_and_mono_files(tmp_path: Path, fs: int, capsys):
    cap, _ = render(Room(fs=fs), fs=fs, sweep_s=6.0)
    path = tmp_path / "mono.wav"
    write_wav(path, fs, cap[:, :1])
    assert main(["audio", "analyze", str(path), "--json", *NO_CONFIG]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"]["status"] == "ok", doc["components"]
    assert doc["metrics"]["channels_present"] == [0]  # no reference channel in a mono file
    assert doc["metrics"]["acoustic"] is not None


def test_float_and_24_bit_wavs_read_at_full_scale(tmp_path: Path):
    from scipy.io import wavfile

    x = 0.5 * np.sin(np.linspace(0, 100, 4800))[:, None]
    wavfile.write(tmp_path / "f.wav", 48000, x.astype(np.float32))
    wavfile.write(tmp_path / "i32.wav", 48000, (x * 2**31).astype(np.int32))
    for name in ("f.wav", "i32.wav"):
        rate, y = read_wav(tmp_path / name)
        assert rate == 48000 and np.max(np.abs(y)) == pytest.approx(0.5, abs=1e-3)


def test_mistakes_get_a_sentence_and_an_exit_code(tmp_path: Path, wavs, capsys):
    assert main(["audio", "analyze", str(tmp_path / "nope.wav"), *NO_CONFIG]) == 66
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "text.wav").write_text("hello")
    assert main(["audio", "analyze", str(tmp_path / "text.wav"), *NO_CONFIG]) == 65
    assert "cannot read" in capsys.readouterr().err
    code = main(["audio", "analyze", str(wavs["good"]), "--stimulus", str(wavs["good"]),
                 *NO_CONFIG])  # fmt: skip
    assert code == 65
    assert "not an exponential sine sweep" in capsys.readouterr().err
    short = tmp_path / "short.wav"
    write_wav(short, 48000, np.zeros((4800, 2)))
    assert main(["audio", "analyze", str(short), *NO_CONFIG]) == 65
    assert "shorter than the sweep" in capsys.readouterr().err
    bad_ref = tmp_path / "ref.json"
    bad_ref.write_text('{"version": 1, "fs": "x"}')
    assert main(["audio", "analyze", str(wavs["good"]), "--reference", str(bad_ref),
                 *NO_CONFIG]) == 65  # fmt: skip
    assert "fs: expected a positive whole number" in capsys.readouterr().err


def test_a_reference_turns_a_quieter_amplifier_into_a_finding(tmp_path: Path, wavs, capsys):
    from roomprobe.audio import analysis
    from roomprobe.audio.reference import Reference

    cfg = AudioConfig()
    good = read_wav(wavs["good"])[1]
    ref = Reference.from_analysis(analysis.analyse(active.make_sweep(cfg), good), "t")
    ref.save(tmp_path / "ref.json")
    quiet, _ = render(Room().with_faults(amp_gain_db=-10), sweep_s=6.0)
    write_wav(tmp_path / "quiet.wav", 48000, quiet)
    code = main(["audio", "analyze", str(tmp_path / "quiet.wav"), "--reference",
                 str(tmp_path / "ref.json"), "--json", *NO_CONFIG])  # fmt: skip
    assert code == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"]["reason"] == "audio.amp_gain_changed"


def test_no_test_tone_by_hand_in_meeting_mode(tmp_path: Path, capsys):
    """Rule 1 holds at the keyboard too: the daemon's saved meeting mode refuses the tone."""
    from rig import probe_toml
    from roomprobe.outbox import FILE_NAME, Outbox

    state = tmp_path / "state"
    state.mkdir()
    box = Outbox(state / FILE_NAME, "00000000-0000-4000-8000-000000000001")
    box.set_state("meeting_mode", "on")
    box.close()
    conf = tmp_path / "probe.toml"
    conf.write_text(probe_toml("dak-ang", 1883, state, audio={"capture_device": "pulse"}))
    for command in ("test", "commission"):
        assert main(["audio", command, "--config", str(conf)]) == 69
        assert "meeting mode is on" in capsys.readouterr().err
