"""Simulated rooms: their metrics fit the contract and their verdicts match the profile."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from roomprobe import verdicts
from roomprobe.callquality import mos
from roomprobe.config import SIM_PROFILES, SimulationConfig, Thresholds
from roomprobe.contract import Stamp, utc_iso, validate
from roomprobe.simulated import SimulatedAudio, SimulatedLine

T = Thresholds()
SEEDS = [None, 0, 1, 7, 42, 2026]
DRAWS = 40
STAMP = Stamp("dak-ang", str(uuid.uuid4()), lambda: True)


def result_payload(kind: str, metrics: dict[str, Any], seq: int = 1) -> dict[str, Any]:
    judge = {"net": verdicts.net, "monitor": verdicts.monitor, "audio": verdicts.audio}[kind]
    return STAMP.envelope(
        f"roomprobe.result.{kind}",
        seq,
        kind=kind,
        started_at=utc_iso(),
        duration_s=10.0,
        simulated=True,
        verdict=judge(metrics, T).to_dict(),
        metrics=metrics,
    )


def line_tests(profile: str, seed: int | None) -> list[dict[str, Any]]:
    line = SimulatedLine(profile, "dak-ang", seed)
    return [line.line_test() for _ in range(DRAWS)]


def monitor_windows(profile: str, seed: int | None) -> list[dict[str, Any]]:
    line = SimulatedLine(profile, "dak-ang", seed)
    return [line.monitor_window(60.0) for _ in range(DRAWS)]


def audio_tests(profile: str, seed: int | None) -> list[dict[str, Any]]:
    audio = SimulatedAudio(profile, "dak-ang", seed)
    return [audio.audio_test() for _ in range(DRAWS)]


def test_the_simulator_knows_every_configurable_profile() -> None:
    assert set(SIM_PROFILES) == {"good", "slow-line", "flaky-lan", "broken-speaker", "dead-mic"}
    from roomprobe.audio.modelled import PROFILE_FAULTS

    assert set(PROFILE_FAULTS) == set(SIM_PROFILES)  # the room model knows each one too
    for profile in SIM_PROFILES:
        assert SimulationConfig(profile=profile).profile == profile
        assert SimulatedLine(profile, "dak-ang").profile == profile
        assert SimulatedAudio(profile, "dak-ang").profile == profile


# -- metrics fit the contract -----------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("profile", SIM_PROFILES)
def test_line_tests_validate_as_net_results(profile: str, seed: int | None) -> None:
    for i, metrics in enumerate(line_tests(profile, seed), 1):
        validate(result_payload("net", metrics, i), "roomprobe.result.net")
        assert metrics["method"] == "simulated"
        assert 0.1 <= metrics["download_mbps"] <= 95.6
        assert 0.1 <= metrics["upload_mbps"] <= 95.6
        assert metrics["rtt_ms"] >= 1.0
        assert metrics["mos"] == round(mos(metrics["rtt_ms"], metrics["jitter_ms"],
                                           metrics["loss_pct"]), 2)  # fmt: skip
        down, up = metrics["download_mbps"], metrics["upload_mbps"]
        assert metrics["bytes_used"] == int((down + up) * 1e6 / 8 * 10)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("profile", SIM_PROFILES)
def test_monitor_windows_validate_as_monitor_results(profile: str, seed: int | None) -> None:
    for i, metrics in enumerate(monitor_windows(profile, seed), 1):
        validate(result_payload("monitor", metrics, i), "roomprobe.result.monitor")
        rtt = metrics["rtt_ms"]
        assert 1.0 <= rtt["min"] <= rtt["median"] <= rtt["p95"]
        assert metrics["window_s"] == 60.0
        assert metrics["room_active"] is False


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("profile", SIM_PROFILES)
def test_audio_tests_validate_as_audio_results(profile: str, seed: int | None) -> None:
    for i, metrics in enumerate(audio_tests(profile, seed), 1):
        validate(result_payload("audio", metrics, i), "roomprobe.result.audio")


def test_monitor_window_length_is_kept() -> None:
    assert SimulatedLine("good", "dak-ang", 1).monitor_window(0.5)["window_s"] == 0.5


# -- verdicts match the profile -----------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_good_room_is_ok_everywhere(seed: int | None) -> None:
    for m in line_tests("good", seed):
        assert verdicts.net(m, T).status == "ok", m
    for m in monitor_windows("good", seed):
        assert verdicts.monitor(m, T).status == "ok", m
    for m in audio_tests("good", seed):
        assert verdicts.audio(m, T).status == "ok", m


@pytest.mark.parametrize("seed", SEEDS)
def test_slow_line_is_the_isps_fault(seed: int | None) -> None:
    for m in line_tests("slow-line", seed):
        v = verdicts.net(m, T)
        assert v.status in ("degraded", "fail"), m
        assert v.actor == "isp"
        assert v.reason in ("net.download_low", "net.upload_low")
    for m in audio_tests("slow-line", seed):
        assert verdicts.audio(m, T).status == "ok"


@pytest.mark.parametrize("seed", SEEDS)
def test_flaky_lan_is_the_rooms_lan_fault(seed: int | None) -> None:
    for m in line_tests("flaky-lan", seed):
        v = verdicts.net(m, T)
        assert (v.status, v.reason, v.actor) == ("fail", "net.lan_fault", "room-lan"), m
    for m in monitor_windows("flaky-lan", seed):
        v = verdicts.monitor(m, T)
        assert (v.status, v.reason, v.actor) == ("fail", "net.lan_fault", "room-lan"), m
    for m in audio_tests("flaky-lan", seed):
        assert verdicts.audio(m, T).status == "ok"


@pytest.mark.parametrize("seed", SEEDS)
def test_broken_speaker_fails_audio_with_a_good_line(seed: int | None) -> None:
    for m in audio_tests("broken-speaker", seed):
        v = verdicts.audio(m, T)
        assert (v.status, v.reason, v.actor) == ("fail", "audio.no_signal", "room-audio"), m
        assert m["level_dbfs"] is None and m["channels_present"] == []
        assert m["noise_floor_dbfs"] is not None and m["noise_floor_dbfs"] < -60
    for m in line_tests("broken-speaker", seed):
        assert verdicts.net(m, T).status == "ok"
    for m in monitor_windows("broken-speaker", seed):
        assert verdicts.monitor(m, T).status == "ok"


# -- determinism ----------------------------------------------------------------------


@pytest.mark.parametrize("profile", SIM_PROFILES)
def test_same_seed_gives_the_same_values(profile: str) -> None:
    for seed in (0, 42):
        assert line_tests(profile, seed) == line_tests(profile, seed)
        assert monitor_windows(profile, seed) == monitor_windows(profile, seed)
        assert audio_tests(profile, seed) == audio_tests(profile, seed)


@pytest.mark.parametrize("profile", SIM_PROFILES)
def test_a_given_seed_ignores_the_site(profile: str) -> None:
    a = SimulatedLine(profile, "dak-ang", 5).line_test()
    b = SimulatedLine(profile, "ngoc-hoi", 5).line_test()
    assert a == b


@pytest.mark.parametrize("profile", SIM_PROFILES)
def test_different_seeds_give_different_values(profile: str) -> None:
    assert line_tests(profile, 1) != line_tests(profile, 2)
    assert monitor_windows(profile, 1) != monitor_windows(profile, 2)
    assert audio_tests(profile, 1) != audio_tests(profile, 2)


def test_without_a_seed_the_site_picks_a_stable_one() -> None:
    a1 = SimulatedLine("good", "dak-ang").line_test()
    a2 = SimulatedLine("good", "dak-ang").line_test()
    b = SimulatedLine("good", "ngoc-hoi").line_test()
    assert a1 == a2
    assert a1 != b
    assert (
        SimulatedAudio("good", "dak-ang").audio_test()
        == SimulatedAudio("good", "dak-ang").audio_test()
    )


def test_successive_draws_vary() -> None:
    values = {m["download_mbps"] for m in line_tests("good", 3)}
    assert len(values) > DRAWS // 2
