"""One active test's capture, analysed: timing, both paths of the return, and the room.

The capture has two channels: 0 is the mixer's return (record/aux out), 1 the
loopback reference wire. What comes back on the return is the sum of two
paths, told apart by when they arrive after the reference:

* the **electrical** path: the probe's own channel straight through the mixer
  (a compact impulse, at the mixer's latency: well under 10 ms). It proves the
  cables and the mixer, and its gain is the mixer's gain. Installation routes
  the probe's channel to the record out (hardware/README.md), so the first
  arrival is always this one.
* the **acoustic** path, when the room's microphones are in the return: mixer →
  amplifier → loudspeakers → air → microphones → mixer. It arrives later by the
  distance over the speed of sound (3 m ≈ 9 ms), with each loudspeaker's direct
  sound and then the room's reverberation. It proves the amplifier, the
  loudspeakers and the microphones, and carries the room's decay.

Pure functions; the same code analyses a live capture, a WAV file and the
simulated room. Judging (which component is at fault) is ``diagnosis``'s job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import decay as decay_mod
from .response import band_levels
from .sweep import Harmonics, Sweep, circular_window, deconvolve, harmonics, noise_region
from .timing import Timing, correct_drift, reference_timing

#: In air at about 20 °C; loudspeaker distances are read from arrival times with it.
SPEED_OF_SOUND_M_S = 343.0
#: An arrival counts when it stands this far above the response's noise.
ARRIVAL_MIN_DB = 20.0
#: The acoustic path must also stand above the electrical impulse's own skirts.
ACOUSTIC_MIN_REL_DB = -45.0
#: How far after the electrical path an acoustic arrival is looked for (50 m of air).
ACOUSTIC_SEARCH_S = 0.15
#: The electrical path's window (its impulse, with a little of the mixer's filters).
ELECTRICAL_WINDOW_S = 0.004
#: The acoustic response is judged on its first 20 ms (direct sound and first
#: reflections: the loudspeaker, not the room's modes), as in quasi-anechoic practice.
ACOUSTIC_RESPONSE_S = 0.02
#: The room's decay is read from this much of the response after the direct sound.
DECAY_S = 1.5
#: The capture kept for analysis around the sweep: its silence before, and the decay after.
KEEP_BEFORE_S = 1.5
KEEP_AFTER_S = 2.5
#: Other loudspeakers' direct sounds are looked for this long after the first.
SPEAKERS_WITHIN_S = 0.03


@dataclass(frozen=True)
class Path:
    """One path of the return: when it arrives, how loud, how clean, its shape."""

    latency_ms: float  # after the reference channel's arrival (or the capture's start)
    gain_db: float  # re a straight wire, over 500 Hz-4 kHz
    harmonics: Harmonics | None
    bands_db: dict[float, float]  # 1/3-octave response

    def to_dict(self) -> dict[str, Any]:
        h = self.harmonics
        thd = None if h is None or not math.isfinite(h.thd_pct) else round(h.thd_pct, 2)
        return {
            "latency_ms": round(self.latency_ms, 2),
            "gain_db": round(self.gain_db, 1) if math.isfinite(self.gain_db) else -240.0,
            "thd_pct": thd,
            "harmonics_pct": None
            if h is None
            else {str(k): round(v, 3) for k, v in h.levels_pct.items() if math.isfinite(v)},
        }


@dataclass(frozen=True)
class Analysis:
    fs: int
    timing: Timing
    level_dbfs: float | None  # RMS of the return while the sweep plays
    noise_floor_dbfs: float | None  # RMS of the return in the silence before it
    snr_db: float | None
    peak_dbfs: float | None  # loudest sample of the return
    electrical: Path | None
    acoustic: Path | None
    arrivals_ms: tuple[float, ...]  # acoustic arrivals (each loudspeaker's direct sound)
    arrival_levels_db: tuple[float, ...]  # envelope of the response at each arrival, re wire
    room: decay_mod.RoomDecay | None
    warnings: tuple[str, ...] = field(default=())
    # Kept for the diagnosis's questions, not reported:
    origin: int = 0  # index of time zero in the response
    wire_peak: float = 1.0  # a straight wire's peak height in the response
    envelope: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def channels_present(self) -> list[int]:
        out = []
        if self.electrical is not None or self.acoustic is not None:
            out.append(0)
        if self.timing.present:
            out.append(1)
        return out

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None, nd: int = 1) -> float | None:
            return None if v is None or not math.isfinite(v) else round(v, nd)

        main = self.acoustic or self.electrical
        return {
            "level_dbfs": r(self.level_dbfs),
            "noise_floor_dbfs": r(self.noise_floor_dbfs),
            "snr_db": r(self.snr_db),
            "thd_pct": None
            if main is None or main.harmonics is None
            else r(main.harmonics.thd_pct, 2),
            "latency_ms": None if self.electrical is None else r(self.electrical.latency_ms, 2),
            "channels_present": self.channels_present,
            "drift_ppm": r(self.timing.drift_ppm) if self.timing.present else None,
            "electrical": None if self.electrical is None else self.electrical.to_dict(),
            "acoustic": None if self.acoustic is None else self.acoustic.to_dict(),
            "arrivals_ms": [round(a, 2) for a in self.arrivals_ms],
            "room": None if self.room is None else self.room.to_dict(),
        }


def harmonic_band(sweep: Sweep) -> tuple[float, float] | None:
    """Input frequencies over which H2-H5 are read: 200 Hz-2 kHz, narrowed to fit the sweep.

    Harmonic 5 of the band's top must stay inside the sweep (a file at 16 kHz
    sweeps only to 7.2 kHz: the band becomes 200-1440 Hz). None when less
    than an octave is left.
    """
    lo = max(200.0, 1.5 * sweep.f1)
    hi = min(2000.0, sweep.f2 / 5)
    return (lo, hi) if hi >= 2 * lo else None


def _dbfs(x: np.ndarray) -> float | None:
    if len(x) == 0:
        return None
    rms = float(np.sqrt(np.mean(np.square(x))))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def _envelope(ir: np.ndarray, fs: int) -> np.ndarray:
    """Envelope of the response over 1-6 kHz: an arrival's height whatever its phase.

    The band edges are raised-cosine tapers, not the sweep's own edges: a
    band cut sharply rings (1/t skirts reaching -35 dB a millisecond away), and
    a taper only 200 Hz wide spreads over 5 ms; 1 kHz-wide tapers settle in 1 ms,
    and the electrical impulse's skirt would pass for an acoustic arrival.
    The magnitude of the analytic signal is the envelope.
    """
    n = len(ir)
    spec = np.fft.fft(ir)
    f = np.abs(np.fft.fftfreq(n, 1 / fs))
    taper = np.clip((f - 500) / 1000, 0, 1) * np.clip((10000 - f) / 4000, 0, 1)
    taper = 0.5 - 0.5 * np.cos(np.pi * taper)
    spec *= taper
    spec[1 : (n + 1) // 2] *= 2
    spec[(n + 1) // 2 :] = 0
    return np.abs(np.fft.ifft(spec))


def _gain_db(segment: np.ndarray, fs: int) -> float:
    """Gain over 500 Hz-4 kHz, where every path of a meeting room passes."""
    levels = band_levels(segment, fs, 500.0, 4000.0, nfft=max(4096, len(segment)))
    return float(np.median(list(levels.values()))) if levels else -math.inf


def analyse(
    sweep: Sweep, capture: np.ndarray, *, with_harmonics: bool = True, with_room: bool = True
) -> Analysis:
    """Analyse a capture (frames x 2: return, reference; or mono: return only)."""
    cap = np.asarray(capture, dtype=np.float64)
    if cap.ndim == 1:
        cap = cap[:, None]
    if cap.ndim != 2 or cap.shape[1] not in (1, 2):
        raise ValueError(f"capture must be mono or frames x 2 (return, reference), got {cap.shape}")
    if cap.shape[0] < len(sweep.signal):
        raise ValueError(
            f"capture of {cap.shape[0] / sweep.fs:.2f} s is shorter than the sweep "
            f"({sweep.duration_s:.2f} s)"
        )
    fs = sweep.fs
    warnings: list[str] = []
    h_band = harmonic_band(sweep)
    if with_harmonics and h_band is None:
        with_harmonics = False
        warnings.append(f"sweep {sweep.f1:g}-{sweep.f2:g} Hz too narrow for harmonics 2-5")
    if cap.shape[1] == 2:
        timing = reference_timing(sweep, cap[:, 1])
        if timing.present:
            # Keep what the analysis reads: the silence before the sweep, the sweep and
            # the room's decay. PulseAudio's start-up (up to 2 s of nothing) and a long
            # wait for the tail would only make every transform longer (and memory grows
            # with the next power of two).
            lo = max(0, round(timing.start_index) - round(KEEP_BEFORE_S * fs))
            hi = round(timing.start_index) + len(sweep.signal) + round(KEEP_AFTER_S * fs)
            cap = cap[lo:hi]
            timing = replace(timing, start_index=timing.start_index - lo)
        if timing.present and abs(timing.drift_ppm) >= 0.5:
            cap = correct_drift(cap, timing.drift_ppm)
            drift = timing.drift_ppm
            timing = reference_timing(sweep, cap[:, 1])
            timing = Timing(timing.present, timing.start_index, drift, timing.share)
    else:  # mono: no reference channel at all (share NaN, unlike a silent one)
        timing = Timing(False, math.nan, math.nan, math.nan)
    ret = cap[:, 0]
    ir = deconvolve(sweep, ret)
    n = len(ir)
    env = _envelope(ir, fs)
    # The response's own noise: its noise-only stretch (before the harmonics).
    lo_n, hi_n = noise_region(sweep, round(timing.start_index) if timing.present else 0)
    quiet = env[np.arange(lo_n, hi_n) % n] if hi_n > lo_n else env[n // 2 :]
    noise = float(np.sqrt(np.mean(quiet**2)))

    start = round(timing.start_index) if timing.present else None
    if start is None:
        warnings.append("no reference: latency is counted from the first arrival")
    first = _first_arrival(env, noise, start, fs)
    origin = start if start is not None else first
    sweep_end = (origin or 0) + len(sweep.signal)
    level = _dbfs(ret[origin:sweep_end]) if origin is not None else _dbfs(ret)
    pre = ret[: max((origin or 0) - round(0.02 * fs), 0)]
    noise_floor = _dbfs(pre) if len(pre) >= round(0.1 * fs) else None
    peak = float(np.max(np.abs(ret))) if len(ret) else 0.0
    peak_dbfs = 20 * math.log10(peak) if peak > 0 else -math.inf

    electrical = acoustic = None
    arrivals: list[float] = []
    arrival_levels: list[float] = []
    room = None
    if first is not None and origin is not None:
        band = sweep.wire_peak
        acoustic_at = _acoustic_arrivals(env, noise, first, fs)
        e_len = round(ELECTRICAL_WINDOW_S * fs)
        if acoustic_at:
            e_len = min(e_len, max(acoustic_at[0] - first - round(0.0005 * fs), 8))
        pre_e = round(0.001 * fs)
        e_seg = circular_window(ir, first - pre_e, e_len + pre_e)
        electrical = Path(
            latency_ms=1000 * (first - origin) / fs,
            gain_db=_gain_db(e_seg, fs),
            harmonics=harmonics(sweep, ir, first, window_s=e_len / fs, input_band_hz=h_band)
            if with_harmonics and h_band is not None
            else None,
            bands_db=band_levels(e_seg, fs, 1000.0, min(16000.0, sweep.f2)),
        )
        if acoustic_at:
            a0 = acoustic_at[0]
            arrivals = [1000 * (a - origin) / fs for a in acoustic_at]
            arrival_levels = [20 * math.log10(max(env[a] / band, 1e-12)) for a in acoustic_at]
            direct = circular_window(ir, a0 - round(0.0005 * fs), round(0.0025 * fs))
            shaped = circular_window(ir, a0 - round(0.001 * fs), round(ACOUSTIC_RESPONSE_S * fs))
            gap = sweep.rate_l * math.log(6 / 5)
            acoustic = Path(
                latency_ms=arrivals[0],
                gain_db=_gain_db(direct, fs),
                harmonics=harmonics(
                    sweep, ir, a0, window_s=min(0.8 * gap, 0.1), input_band_hz=h_band
                )
                if with_harmonics and h_band is not None
                else None,
                bands_db=band_levels(shaped, fs, 100.0, min(16000.0, sweep.f2)),
            )
            if with_room:
                tail = circular_window(ir, a0 - round(0.0005 * fs), round(DECAY_S * fs))
                try:
                    room = decay_mod.room_decay(tail, fs)
                except ValueError as exc:
                    warnings.append(f"room decay not measured: {exc}")
    snr = None
    if level is not None and noise_floor is not None and math.isfinite(noise_floor):
        snr = level - noise_floor
    return Analysis(
        fs=fs,
        timing=timing,
        level_dbfs=level,
        noise_floor_dbfs=noise_floor,
        snr_db=snr,
        peak_dbfs=peak_dbfs,
        electrical=electrical,
        acoustic=acoustic,
        arrivals_ms=tuple(arrivals),
        arrival_levels_db=tuple(arrival_levels),
        room=room,
        warnings=tuple(warnings),
        origin=origin or 0,
        wire_peak=sweep.wire_peak,
        envelope=env,
    )


def _first_arrival(env: np.ndarray, noise: float, start: int | None, fs: int) -> int | None:
    """The first point the response rises clear of its noise: the electrical path.

    Searched from 1 ms before the reference's arrival (or anywhere in the
    causal half without a reference), then moved to the envelope's peak within
    the next 1.5 ms (the band-limited impulse's crest; an acoustic arrival is
    never that close: 1.5 ms is half a metre of air plus the mixer twice).
    """
    lo = max((start or 0) - round(0.001 * fs), 0)
    hi = (start + round(0.2 * fs)) if start is not None else len(env) // 2
    seg = env[lo:hi]
    if not len(seg):
        return None
    threshold = max(noise * 10 ** (ARRIVAL_MIN_DB / 20), float(seg.max()) * 10 ** (-30 / 20))
    above = np.flatnonzero(seg >= threshold)
    if not len(above) or float(seg.max()) < noise * 10 ** (ARRIVAL_MIN_DB / 20):
        return None
    k = int(above[0])
    crest = k + int(np.argmax(seg[k : k + round(0.0015 * fs) + 1]))
    return lo + crest


def _acoustic_arrivals(env: np.ndarray, noise: float, first: int, fs: int) -> list[int]:
    """Direct sounds after the electrical path, the nearest loudspeaker's first.

    The first acoustic arrival is where the smoothed envelope first comes
    within 10 dB of its maximum after the electrical path. Further peaks within
    ``SPEAKERS_WITHIN_S`` of it and within 6 dB of the strongest, 2 ms apart,
    are other loudspeakers' direct sounds (or strong first reflections: the
    diagnosis compares them with the commissioned room, where the same
    reflections are).
    """
    guard = round(0.0015 * fs)
    lo, hi = first + guard, first + round(ACOUSTIC_SEARCH_S * fs)
    seg = env[lo:hi]
    e_peak = float(env[first])
    floor = max(noise * 10 ** (ARRIVAL_MIN_DB / 20), e_peak * 10 ** (ACOUSTIC_MIN_REL_DB / 20))
    if not len(seg) or float(seg.max()) < floor:
        return []
    smooth = np.convolve(seg, np.ones(5) / 5, mode="same")
    strongest = float(smooth.max())
    k0 = int(np.flatnonzero(smooth >= max(floor, strongest * 10 ** (-10 / 20)))[0])
    k0 += int(np.argmax(smooth[k0 : k0 + round(0.001 * fs) + 1]))
    span = smooth[k0 : k0 + round(SPEAKERS_WITHIN_S * fs)]
    keep = max(floor, strongest * 10 ** (-6 / 20))
    peaks = [0]
    sep = round(0.002 * fs)
    for k in np.argsort(span)[::-1]:
        if span[k] < keep or len(peaks) >= 4:
            break
        is_local_max = span[k] >= span[max(k - 1, 0)] and span[k] >= span[min(k + 1, len(span) - 1)]
        if is_local_max and all(abs(int(k) - p) >= sep for p in peaks):
            peaks.append(int(k))
    return sorted(lo + k0 + p for p in peaks)


def level_at(analysis: Analysis, ms: float) -> float:
    """The return's response envelope (dB re wire) at ``ms`` after the reference, within ±0.5 ms.

    The diagnosis asks this at each loudspeaker arrival the commissioned room had.
    """
    k = analysis.origin + round(ms * analysis.fs / 1000)
    half = round(0.0005 * analysis.fs)
    seg = analysis.envelope[max(k - half, 0) : k + half + 1]
    band = analysis.wire_peak
    return 20 * math.log10(max(float(seg.max()) / band, 1e-12)) if len(seg) else -240.0
