"""From an analysis (and the passive watch) to a verdict per component, and who must act.

Room staff need to hear "the loudspeakers are silent: check the amplifier",
not "acoustic path missing". Each finding names one component of the chain:

* ``probe``: the box and its interface (device missing, busy or at the wrong
  rate, overruns, USB dropouts, the loopback reference wire). District IT acts.
* ``cabling``: the signal cables to and from the mixer (nothing comes back;
  mains hum from a ground loop).
* ``mixer``: its gain, its latency, distortion or clipping on the probe's
  channel, hiss, and howling (feedback is set by the mixer's microphone gain).
* ``speakers``: the amplifier and loudspeakers (silent, one silent, volume
  changed, distorting, response changed).
* ``microphones``: dead or muted.

The electrical path isolates the mixer and cables; the acoustic path adds the
amplifier, loudspeakers and microphones; what changed in the acoustic path
but not in the electrical one is theirs. Whether the microphones are alive
when no sweep comes through the air is told by the room itself: live
microphones carry the room's noise (and people's voices), dead ones leave
only the mixer's hiss, far quieter. Commune staff act on everything but the
probe (actor ``room-audio``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..config import Thresholds
from ..verdicts import Status, Verdict, make, worst
from .analysis import Analysis, level_at
from .device import AudioDeviceError
from .reference import Reference
from .response import compare
from .watch import WatchSummary

COMPONENTS: tuple[str, ...] = ("probe", "cabling", "mixer", "speakers", "microphones")

#: Every finding's reason code and the component it belongs to: the one place the
#: diagnosis, the operators' page (docs/operators/audio.md) and its test read.
FINDINGS: dict[str, str] = {
    "audio.device_missing": "probe",
    "audio.device_busy": "probe",
    "audio.rate_unsupported": "probe",
    "audio.device_error": "probe",
    "audio.overruns": "probe",
    "audio.dropouts": "probe",
    "audio.reference_missing": "probe",
    "audio.no_return": "cabling",
    "audio.hum": "cabling",
    "audio.mixer_gain_changed": "mixer",
    "audio.latency_changed": "mixer",
    "audio.mixer_distortion": "mixer",
    "audio.clipping": "mixer",
    "audio.level_low": "mixer",
    "audio.noise_high": "mixer",
    "audio.feedback": "mixer",
    "audio.speakers_silent": "speakers",
    "audio.speaker_missing": "speakers",
    "audio.amp_gain_changed": "speakers",
    "audio.distortion": "speakers",
    "audio.response_changed": "speakers",
    "audio.mics_silent": "microphones",
}


def _actor(component: str) -> str:
    return "probe" if component == "probe" else "room-audio"


@dataclass(frozen=True)
class Findings:
    overall: Verdict
    components: tuple[Verdict, ...]  # one per component, in COMPONENTS order

    def by_component(self) -> dict[str, Verdict]:
        return {c: v for c, v in zip(COMPONENTS, self.components, strict=True)}

    def to_list(self) -> list[dict[str, Any]]:
        return [v.to_dict() for v in self.components]


class _Collector:
    def __init__(self) -> None:
        self.found: dict[str, list[Verdict]] = {c: [] for c in COMPONENTS}
        self.unknown: set[str] = set()

    def add(self, status: Status, reason: str, **values: Any) -> None:
        component = FINDINGS[reason]
        self.found[component].append(
            make(f"audio.{component}", status, reason, _actor(component), **values)  # type: ignore[arg-type]
        )

    def result(self, overall_unknown: str | None = None) -> Findings:
        verdicts = []
        for c in COMPONENTS:
            if self.found[c]:
                verdicts.append(worst(self.found[c]))
            elif c in self.unknown:
                verdicts.append(make(f"audio.{c}", "unknown", f"audio.{c}_unknown"))
            else:
                verdicts.append(make(f"audio.{c}", "ok", f"audio.{c}_ok"))
        bad = [v for v in verdicts if v.status in ("degraded", "fail")]
        if bad:
            w = worst(bad)
            overall = Verdict("audio", w.status, w.reason, w.message, w.actor)
        elif overall_unknown:
            overall = make("audio", "unknown", overall_unknown)
        elif all(v.status == "unknown" for v in verdicts):
            overall = make("audio", "unknown", "audio.unknown")
        else:
            overall = make("audio", "ok", "audio.ok")
        return Findings(overall, tuple(verdicts))


def _change(value: float, limit: float) -> Status:
    """A change in dB or ms: past the limit degraded, past twice the limit fail."""
    v = abs(value)
    return "ok" if v <= limit else ("degraded" if v <= 2 * limit else "fail")


def _watch_findings(c: _Collector, watch: WatchSummary | None, t: Thresholds) -> None:
    if watch is None or not watch.channels:
        return
    ret = watch.channels[0]
    if watch.overruns:
        c.add("degraded", "audio.overruns", value=watch.overruns)
    if ret.dropouts > t.audio_max_dropouts:
        c.add("degraded", "audio.dropouts", value=ret.dropouts)
    if ret.hum and ret.hum_dbfs is not None:
        c.add("degraded", "audio.hum", value=ret.hum_dbfs)
    if ret.feedback:
        hz = max(ret.feedback, key=lambda f: f[1])[0]
        c.add("fail", "audio.feedback", value=hz)
    if ret.clip_events:
        c.add("degraded", "audio.clipping")


def diagnose(
    a: Analysis | None, t: Thresholds, *, reference: Reference | None = None,
    watch: WatchSummary | None = None, device_error: AudioDeviceError | None = None,
    overruns: int = 0, aborted: bool = False,
) -> Findings:  # fmt: skip
    """Every component's verdict from what this test (and the watch) saw."""
    c = _Collector()
    _watch_findings(c, watch, t)
    if device_error is not None:
        c.add("fail", device_error.reason, problem=device_error.detail)
        c.unknown.update(COMPONENTS[1:])
        return c.result()
    if overruns and not (watch and watch.overruns):
        c.add("degraded", "audio.overruns", value=overruns)
    if aborted or a is None:
        c.unknown.update(COMPONENTS[1:])
        return c.result("audio.test_aborted" if aborted else None)

    ref = reference
    if not a.timing.present and not math.isnan(a.timing.share):  # stereo, reference silent
        c.add("degraded", "audio.reference_missing")
    e = a.electrical
    if e is None and a.acoustic is None:
        c.add("fail", "audio.no_return")
        c.unknown.update(("mixer", "speakers", "microphones"))
        return c.result()

    # Clipping on the return while the sweep played.
    if a.peak_dbfs is not None and a.peak_dbfs >= -0.1:
        c.add("degraded", "audio.clipping")
    # The mixer: the electrical path against the reference, or absolute limits.
    if e is not None:
        if ref is not None and ref.electrical_gain_db is not None:
            change = e.gain_db - ref.electrical_gain_db
            if (s := _change(change, t.audio_max_gain_change_db)) != "ok":
                c.add(s, "audio.mixer_gain_changed", value=change)
        if ref is not None and ref.electrical_latency_ms is not None:
            change = e.latency_ms - ref.electrical_latency_ms
            if (s := _change(change, t.audio_max_latency_change_ms)) != "ok":
                c.add(s, "audio.latency_changed", value=change)
        if e.harmonics is not None and e.harmonics.thd_pct > t.audio_max_thd_pct:
            s = "degraded" if e.harmonics.thd_pct <= 2 * t.audio_max_thd_pct else "fail"
            c.add(s, "audio.mixer_distortion", value=e.harmonics.thd_pct,
                  limit=t.audio_max_thd_pct)  # fmt: skip
    if a.level_dbfs is not None and a.level_dbfs < t.audio_min_level_dbfs:
        s = "degraded" if a.level_dbfs >= t.audio_min_level_dbfs - 10 else "fail"
        c.add(s, "audio.level_low", value=a.level_dbfs, limit=t.audio_min_level_dbfs)
    if a.snr_db is not None and a.snr_db < t.audio_min_snr_db:
        s = "degraded" if a.snr_db >= t.audio_min_snr_db - 10 else "fail"
        c.add(s, "audio.noise_high", value=a.snr_db, limit=t.audio_min_snr_db)

    # Microphones: alive if they carried the sweep through the air, or the room's noise.
    floor = a.noise_floor_dbfs
    if ref is not None and ref.noise_floor_dbfs is not None:
        mic_floor = ref.noise_floor_dbfs - t.audio_mic_noise_drop_db
    else:
        mic_floor = t.audio_mic_noise_min_dbfs
    heard_room = floor is not None and math.isfinite(floor) and floor >= mic_floor
    heard_people = watch is not None and watch.speech_s > 0
    acoustic_expected = (ref is not None and ref.acoustic_latency_ms is not None) or ref is None
    ac = a.acoustic
    if ac is None:
        if heard_room or heard_people:
            if acoustic_expected:
                c.add("fail", "audio.speakers_silent")
        elif ref is not None and ref.acoustic_latency_ms is not None:
            c.add("fail", "audio.mics_silent")
            c.unknown.add("speakers")
        else:  # no microphones in the return, and none commissioned: not measured
            c.unknown.update(("speakers", "microphones"))
        return c.result()

    e_change = 0.0
    if e is not None and ref is not None and ref.electrical_gain_db is not None:
        e_change = e.gain_db - ref.electrical_gain_db
    if ref is not None and ref.acoustic_gain_db is not None:
        change = ac.gain_db - ref.acoustic_gain_db - e_change  # the mixer's share is the mixer's
        if (s := _change(change, t.audio_max_gain_change_db)) != "ok":
            c.add(s, "audio.amp_gain_changed", value=change)
    if ref is not None and len(ref.arrivals_ms) >= 2:
        # Each commissioned arrival's change; a volume change moves them all alike,
        # a silent loudspeaker takes its own arrival down against the others'.
        changes = [
            level_at(a, ms) - was
            for ms, was in zip(ref.arrivals_ms, ref.arrival_levels_db, strict=False)
        ]
        lowest = min(range(len(changes)), key=changes.__getitem__)
        if max(changes) - changes[lowest] > t.audio_speaker_drop_db:
            c.add("fail", "audio.speaker_missing",
                  value=ref.distance_m(ref.arrivals_ms[lowest]))  # fmt: skip
    e_thd = e.harmonics.thd_pct if e is not None and e.harmonics is not None else 0.0
    if ac.harmonics is not None and ac.harmonics.thd_pct > t.audio_max_thd_pct >= e_thd:
        s = "degraded" if ac.harmonics.thd_pct <= 2 * t.audio_max_thd_pct else "fail"
        c.add(s, "audio.distortion", value=ac.harmonics.thd_pct,
              limit=t.audio_max_thd_pct)  # fmt: skip
    if ref is not None and ref.bands_db and ref.acoustic_latency_ms is not None:
        try:
            dev = compare(ac.bands_db, ref.bands_db)
        except ValueError:
            dev = None
        s = "ok" if dev is None else _change(dev.max_db, t.audio_max_response_dev_db)
        if dev is not None and s != "ok":
            c.add(s, "audio.response_changed", value=dev.max_db,
                  band=dev.worst_hz)  # fmt: skip
    return c.result()
