"""A simulated meeting room's audio chain, with faults that can be injected, for tests.

The audio probe cannot be tested against a real commune hall in CI, so this
module renders what the probe's USB audio interface would capture, from a
physical model of the chain. Every fault a technician meets (dead microphone,
blown loudspeaker, ground-loop hum, clipping amplifier, howling, USB gaps,
clock drift, a changed mixer setting) can be switched on, and ``Room.truth()``
says what a correct analysis must find. Pure numpy/scipy, deterministic for a
seed (no global random state).

Topology modelled::

    probe out 0 ──> mixer line in (probe's channel: gain, input delay)
                     ├─> record/aux out ─────────────────────────────> probe in 0 ("return")
                     └─> main out ─> amplifier ─> loudspeakers ─> air ─> room mics
                                                                          │
                               mixer mic inputs ─> record/aux out <───────┘ (if mic_in_return)
    probe out 1 ───────────────── straight wire ─────────────────────> probe in 1 ("reference")

* The *electrical* path: the probe's signal through the mixer to the record
  out. Gain ``mixer_gain_db``; latency ``mixer_latency_ms`` (the mixer's
  conversion/DSP latency for one input-to-output route) plus
  ``Faults.extra_latency_ms`` (an input delay on the probe's channel).
* The *acoustic* path, heard only when ``mic_in_return`` is true and the mics
  work: mixer (same gain and latency) -> amplifier (volume, possible hard
  clipping) -> loudspeaker response (2nd-order high-pass 70 Hz and low-pass
  16 kHz, optional damaged-driver dip and tilt) -> for each live loudspeaker a
  direct sound after ``distance / 343 m/s`` with 1/r amplitude, a few early
  reflections and an exponentially decaying diffuse tail -> microphone
  (2nd-order high-pass 100 Hz) -> a second route through the mixer (mic input
  to record out: another ``mixer_latency_ms``). So the first acoustic arrival
  comes ``mixer_latency_ms + distance/343`` after the electrical one.
* The reference channel is a wire from output 1 to input 1: unit gain, no
  delay. It is the timing reference, as in REW: analysis measures the return
  against it, which cancels the interface's own (unknown) output/input latency.
* On the return also: the room's ambient noise and talkers (through the mics),
  hum and hiss on the cable, electronic noise of the interface on both inputs.

Not modelled: the PA reinforcing the talkers (the room's own speech through
the loudspeakers), frequency-dependent reverberation, loudspeaker
distortion below clipping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import signal as sps

from roomprobe.audio import signals
from roomprobe.audio.analysis import SPEED_OF_SOUND_M_S

TALKER_LEVEL_DBFS = -30.0
TALKER_DISTANCE_M = 1.5  # a talker from the nearest microphone
_ROOM_SEED = 0x524F4F4D  # the room's geometry is fixed: the same for every render
_SINC_HALF = 16  # half-width in samples of the fractional-delay kernel
_TAIL_GAP_S = 0.004  # the diffuse tail starts this long after each direct sound
_TAIL_RISE_S = 0.010
_N_REFLECTIONS = 5


def _db(x: float) -> float:
    return 10 ** (x / 20)


@dataclass(frozen=True)
class Faults:
    dead_mic: bool = False  # microphones give nothing: no acoustic path, ambient or talkers
    dead_speaker: int | None = None  # index of a loudspeaker that is silent (blown, unplugged)
    mixer_gain_db: float = 0.0  # mixer gain change on the probe's channel (electrical+acoustic)
    amp_gain_db: float = 0.0  # amplifier volume change (acoustic path only)
    hum_dbfs: float | None = None  # ground-loop hum on the return cable (signals.hum)
    noise_dbfs: float | None = None  # broadband hiss added on the return (gain staging)
    amp_clip: float | None = None  # amp clips at this fraction (0..1] of its input's peak
    dropouts: int = 0  # USB capture gaps (runs of exact zeros on BOTH capture channels)
    dropout_ms: float = 20.0
    feedback_hz: float | None = None  # howling (signals.howl) on the return; needs live mics
    feedback_dbfs: float = -20.0
    feedback_onset_s: float = 0.0  # when the howl starts, seconds from capture start
    extra_latency_ms: float = 0.0  # extra delay in the mixer: electrical and acoustic
    notch_hz: float | None = None  # dip in the loudspeaker response (damaged driver)
    notch_db: float = 20.0
    notch_q: float = 2.0
    tilt_db_per_octave: float = 0.0  # loudspeaker response tilted, pivot at 1 kHz

    def __post_init__(self) -> None:
        if self.amp_clip is not None and not 0 < self.amp_clip <= 1:
            raise ValueError(f"amp_clip must be in (0, 1], got {self.amp_clip}")
        if self.dropouts < 0:
            raise ValueError(f"dropouts must be >= 0, got {self.dropouts}")
        if self.dropout_ms <= 0:
            raise ValueError(f"dropout_ms must be > 0, got {self.dropout_ms}")
        if self.feedback_hz is not None and self.feedback_hz <= 0:
            raise ValueError(f"feedback_hz must be > 0, got {self.feedback_hz}")
        if self.extra_latency_ms < 0:
            raise ValueError(f"extra_latency_ms must be >= 0, got {self.extra_latency_ms}")
        if self.notch_hz is not None and self.notch_hz <= 0:
            raise ValueError(f"notch_hz must be > 0, got {self.notch_hz}")
        if self.notch_q <= 0:
            raise ValueError(f"notch_q must be > 0, got {self.notch_q}")


@dataclass(frozen=True)
class Truth:
    """What a correct analysis of a render must find."""

    electrical_latency_s: float  # electrical path's arrival on the return, after the reference
    acoustic_latency_s: float | None  # nearest live speaker's direct sound; None: no acoustics
    speaker_arrivals_s: tuple[float, ...]  # every live speaker's direct sound, earliest first
    electrical_gain_db: float  # 0 dB = the return equals what was played
    acoustic_gain_db: float | None  # direct sound of the nearest live speaker, at 1 kHz
    rt60_s: float | None  # the diffuse tail decays 60 dB in this time; None: no acoustics
    drift_ppm: float


@dataclass(frozen=True)
class Room:
    fs: int = 48000
    mic_in_return: bool = True
    speaker_distances_m: tuple[float, ...] = (4.0, 6.5)
    rt60_s: float = 0.6
    mixer_gain_db: float = 0.0
    acoustic_gain_db: float = -10.0  # nearest speaker's direct sound vs the electrical path
    mixer_latency_ms: float = 0.5
    ambient_dbfs: float = -62.0  # room noise heard by the microphones (pink), on the return
    electronic_noise_dbfs: float = -92.0  # interface/mixer noise (white) on both inputs
    reference_present: bool = True  # False: loopback wire unplugged (reference is only noise)
    drift_ppm: float = 0.0  # ADC clock faster than the DAC's by this much (capture longer)
    faults: Faults = field(default_factory=Faults)
    # Distance at which direct and diffuse sound are equally loud. 5 m puts the
    # default speakers at +1.9 and -2.3 dB direct-to-reverberant, typical of a
    # hall with directional PA boxes.
    critical_distance_m: float = 5.0

    def __post_init__(self) -> None:
        if self.fs <= 0:
            raise ValueError(f"fs must be > 0, got {self.fs}")
        d = self.speaker_distances_m
        if not d or any(not (math.isfinite(x) and x > 0) for x in d):
            raise ValueError(f"speaker_distances_m must be non-empty and all > 0, got {d}")
        if not (math.isfinite(self.rt60_s) and self.rt60_s > 0):
            raise ValueError(f"rt60_s must be > 0, got {self.rt60_s}")
        if self.mixer_latency_ms < 0:
            raise ValueError(f"mixer_latency_ms must be >= 0, got {self.mixer_latency_ms}")
        if self.critical_distance_m <= 0:
            raise ValueError(f"critical_distance_m must be > 0, got {self.critical_distance_m}")
        ds = self.faults.dead_speaker
        if ds is not None and not 0 <= ds < len(d):
            raise ValueError(f"dead_speaker must be an index into speaker_distances_m, got {ds}")
        for name in ("notch_hz", "feedback_hz"):
            f = getattr(self.faults, name)
            if f is not None and f >= self.fs / 2:
                raise ValueError(f"{name} must be below fs/2 = {self.fs / 2}, got {f}")

    def with_faults(self, **kw) -> Room:
        """The same room with some faults changed (the others kept)."""
        return replace(self, faults=replace(self.faults, **kw))

    # -- what the analysis should find ------------------------------------------------

    def _mics_on_return(self) -> bool:
        return self.mic_in_return and not self.faults.dead_mic

    def _live_speakers(self) -> list[int]:
        return [i for i in range(len(self.speaker_distances_m)) if i != self.faults.dead_speaker]

    def _acoustic_on(self) -> bool:
        return self._mics_on_return() and bool(self._live_speakers())

    def _electrical_latency_s(self) -> float:
        return (self.mixer_latency_ms + self.faults.extra_latency_ms) / 1000

    def _arrival_s(self, i: int) -> float:
        """Speaker i's direct sound: mixer (probe channel), air, mixer again (mic channel)."""
        d = self.speaker_distances_m[i]
        return self._electrical_latency_s() + d / SPEED_OF_SOUND_M_S + self.mixer_latency_ms / 1000

    def _direct_amplitude(self, i: int) -> float:
        """Speaker i's direct sound at the return per unit at the amplifier's input (1/r)."""
        nearest = min(self.speaker_distances_m)
        return _db(self.acoustic_gain_db) * nearest / self.speaker_distances_m[i]

    def truth(self) -> Truth:
        """Latencies, gains and decay a correct analysis must report for this room."""
        g_e = self.mixer_gain_db + self.faults.mixer_gain_db
        if not self._acoustic_on():
            return Truth(self._electrical_latency_s(), None, (), g_e, None, None, self.drift_ppm)
        live = self._live_speakers()
        arrivals = tuple(sorted(self._arrival_s(i) for i in live))
        nearest = min(live, key=lambda i: self.speaker_distances_m[i])
        g_a = g_e + self.faults.amp_gain_db + 20 * math.log10(self._direct_amplitude(nearest))
        return Truth(
            electrical_latency_s=self._electrical_latency_s(),
            acoustic_latency_s=arrivals[0],
            speaker_arrivals_s=arrivals,
            electrical_gain_db=g_e,
            acoustic_gain_db=g_a,
            rt60_s=self.rt60_s,
            drift_ppm=self.drift_ppm,
        )

    # -- the parts of the chain ----------------------------------------------------

    def _speaker_response(self, x: np.ndarray) -> np.ndarray:
        """Loudspeaker: band-pass 70 Hz-16 kHz, optional driver dip and tilt."""
        fs = self.fs
        sos = [
            sps.butter(2, 70, "highpass", fs=fs, output="sos"),
            sps.butter(2, min(16000.0, 0.45 * fs), "lowpass", fs=fs, output="sos"),
        ]
        f = self.faults
        if f.notch_hz is not None:
            sos.append(_peaking_sos(f.notch_hz, -f.notch_db, f.notch_q, fs))
        y = sps.sosfilt(np.concatenate(sos), x)
        if f.tilt_db_per_octave:
            y = sps.oaconvolve(y, _tilt_fir(f.tilt_db_per_octave, fs))[: len(x)]
        return y

    def _mic_response(self, x: np.ndarray) -> np.ndarray:
        """Meeting microphones roll off the low end (against handling noise and rumble)."""
        return sps.sosfilt(sps.butter(2, 100, "highpass", fs=self.fs, output="sos"), x)

    def _tail(self, n: int, energy: float, rng: np.random.Generator) -> np.ndarray:
        """Diffuse reverberation: Gaussian noise decaying 60 dB in rt60, total ``energy``."""
        t = np.arange(n) / self.fs
        env = np.exp(-6.91 * t / self.rt60_s)
        rise = min(round(_TAIL_RISE_S * self.fs), n)
        env[:rise] *= 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, rise))
        tail = rng.standard_normal(n) * env
        return tail * math.sqrt(energy / float(np.sum(tail**2)))

    def room_ir(self) -> np.ndarray:
        """Impulse response from the amplifier's input to the return (before the mic filter).

        Includes both mixer routes' delays. Each live speaker gets its direct
        sound, ``_N_REFLECTIONS`` early reflections (extra path 1-8 m, amplitude
        reflection coefficient 0.3-0.7) and a diffuse tail. The diffuse field's energy is
        the same for every speaker (it does not depend on where the listener
        is), equal to the direct energy at the critical distance. Geometry is
        drawn from a fixed seed per speaker, so the room is the same in every
        render and a dead speaker does not change the others.
        """
        fs = self.fs
        tail_n = round(1.5 * self.rt60_s * fs)  # down 90 dB
        last = max(self._arrival_s(i) for i in range(len(self.speaker_distances_m)))
        h = np.zeros(round((last + 8 / SPEED_OF_SOUND_M_S + _TAIL_GAP_S) * fs) + tail_n + 64)
        k_diffuse = _db(self.acoustic_gain_db) * min(self.speaker_distances_m)
        e_diffuse = (k_diffuse / self.critical_distance_m) ** 2
        for i in self._live_speakers():
            rng = np.random.default_rng([_ROOM_SEED, i])
            d = self.speaker_distances_m[i]
            a = self._direct_amplitude(i)
            t0 = self._arrival_s(i)
            _add_impulse(h, t0 * fs, a)
            for extra in np.sort(rng.uniform(1.0, 8.0, _N_REFLECTIONS)):
                gain = rng.uniform(0.3, 0.7) * d / (d + extra)
                _add_impulse(h, (t0 + extra / SPEED_OF_SOUND_M_S) * fs, a * gain)
            start = round((t0 + _TAIL_GAP_S) * fs)
            h[start : start + tail_n] += self._tail(tail_n, e_diffuse, rng)
        return h

    def _talker_ir(self, rng: np.random.Generator) -> np.ndarray:
        """A talker near a mic: unit direct sound plus the room's diffuse tail."""
        tail_n = round(1.5 * self.rt60_s * self.fs)
        gap = round(_TAIL_GAP_S * self.fs)
        h = np.zeros(gap + tail_n)
        h[0] = 1.0
        h[gap:] += self._tail(tail_n, (TALKER_DISTANCE_M / self.critical_distance_m) ** 2, rng)
        return h

    # -- rendering -----------------------------------------------------------------

    def render(
        self, played: np.ndarray, *, seed: int, start_offset_s: float = 0.2,
        tail_s: float = 1.0, talkers_from_s: float | None = None,
    ) -> np.ndarray:  # fmt: skip
        """What the interface captures while ``played`` (n, 2) is played.

        Capture starts ``start_offset_s`` before playback (as if it was already
        running) and runs ``tail_s`` past its end; with clock drift it has
        ``(1 + drift_ppm 1e-6)`` times as many samples. Returns float64
        (m, 2) clipped to [-1, 1] like an ADC: column 0 the return, 1 the
        reference. ``talkers_from_s`` (seconds from capture start) puts people
        talking in the room from then on.
        """
        played = np.asarray(played, dtype=np.float64)
        if played.ndim != 2 or played.shape[1] != 2:
            raise ValueError(f"played must have shape (n, 2), got {played.shape}")
        if start_offset_s < 0:
            raise ValueError(f"start_offset_s must be >= 0, got {start_offset_s}")
        if tail_s < 0:
            raise ValueError(f"tail_s must be >= 0, got {tail_s}")
        played = np.clip(played, -1.0, 1.0)  # the DAC cannot go beyond full scale
        off = round(start_offset_s * self.fs)
        n = len(played)
        m = off + n + round(tail_s * self.fs)
        x0 = np.zeros(m)
        x0[off : off + n] = played[:, 0]
        x1 = np.zeros(m)
        if self.reference_present:
            x1[off : off + n] = played[:, 1]
        return self._capture(x0, x1, seed, talkers_from_s, (off, off + n), drift=True)

    def ambient(
        self, seconds: float, *, seed: int, talkers_from_s: float | None = None
    ) -> np.ndarray:
        """What the interface captures with nothing played: the passive watch input.

        Shape (round(seconds fs), 2). Clock drift has no effect here, as there
        is no playback to drift against; dropouts fall anywhere.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        m = round(seconds * self.fs)
        z = np.zeros(m)
        return self._capture(z, z, seed, talkers_from_s, (0, m), drift=False)

    def _capture(
        self, x0: np.ndarray, x1: np.ndarray, seed: int, talkers_from_s: float | None,
        span: tuple[int, int], *, drift: bool,
    ) -> np.ndarray:  # fmt: skip
        fs, f, m = self.fs, self.faults, len(x0)
        if m == 0:
            return np.zeros((0, 2))
        s = [int(v) for v in np.random.SeedSequence(seed).generate_state(8)]
        g_mix = _db(self.mixer_gain_db + f.mixer_gain_db)
        ret = np.zeros(m)
        if x0.any():
            ret += g_mix * _delay(x0, self._electrical_latency_s() * fs)
        if self._mics_on_return():
            mic = np.zeros(m)
            if self._acoustic_on() and x0.any():
                u = g_mix * _db(f.amp_gain_db) * x0
                if f.amp_clip is not None:
                    limit = f.amp_clip * float(np.max(np.abs(u)))
                    u = np.clip(u, -limit, limit)
                mic += sps.oaconvolve(self._speaker_response(u), self.room_ir())[:m]
            if talkers_from_s is not None:
                t0 = min(max(round(talkers_from_s * fs), 0), m)
                rng = np.random.default_rng(s[0])
                speech = signals.speech_like((m - t0) / fs, fs, s[1], TALKER_LEVEL_DBFS)
                mic[t0:] += sps.oaconvolve(speech, self._talker_ir(rng))[: m - t0]
            ret += self._mic_response(mic)
            amb = self._mic_response(signals.pink_noise(m, s[2], 0.0, fs=fs))
            ret += _scaled(amb, self.ambient_dbfs)  # the level as heard on the return
            if f.feedback_hz is not None:
                ret += signals.howl(
                    m, fs, f.feedback_hz, f.feedback_dbfs, onset_s=f.feedback_onset_s
                )
        if f.hum_dbfs is not None:
            ret += signals.hum(m, fs, f.hum_dbfs, seed=s[3])
        if f.noise_dbfs is not None:
            ret += signals.white_noise(m, s[4], f.noise_dbfs)
        ret += signals.white_noise(m, s[5], self.electronic_noise_dbfs)
        ref = x1 + signals.white_noise(m, s[6], self.electronic_noise_dbfs)
        cap = np.stack([ret, ref], axis=1)
        lo, hi = span
        if drift and self.drift_ppm:
            # The ADC samples at fs (1 + ppm 1e-6) of the DAC's clock: the same
            # stretch of real time yields proportionally more samples. FFT
            # resampling is band-limited interpolation; it treats the capture
            # as periodic, but the wrap joins the tail to the pre-roll, both
            # only noise, so the join costs nothing audible. Rounding the new
            # length makes the ratio exact to within half a sample over the
            # whole capture.
            ratio = 1 + self.drift_ppm * 1e-6
            cap = sps.resample(cap, round(m * ratio), axis=0)
            lo, hi = round(lo * ratio), round(hi * ratio)
        cap = np.clip(cap, -1.0, 1.0)
        if f.dropouts:
            self._drop(cap, lo, hi, s[7])
        return cap

    def _drop(self, cap: np.ndarray, lo: int, hi: int, seed: int) -> None:
        """USB gaps: ``dropouts`` runs of exact zeros, one in each equal slot of [lo, hi)."""
        f = self.faults
        run = round(f.dropout_ms * self.fs / 1000)
        slot = (hi - lo) // f.dropouts
        if slot < 2 * run:
            raise ValueError(
                f"dropouts: {f.dropouts} gaps of {f.dropout_ms} ms do not fit in "
                f"{(hi - lo) / self.fs:.3f} s of playback"
            )
        rng = np.random.default_rng(seed)
        for k in range(f.dropouts):
            start = lo + k * slot + int(rng.integers(0, slot - run))
            cap[start : start + run] = 0.0


def _scaled(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    return x * (_db(level_dbfs) / rms) if rms > 0 else x


def _add_impulse(h: np.ndarray, pos: float, amp: float) -> None:
    """Add a band-limited impulse at fractional sample ``pos`` (Kaiser-windowed sinc).

    At an integer position it is an exact single sample, so integer delays
    stay exact.
    """
    base = math.floor(pos)
    k = np.arange(base - _SINC_HALF + 1, base + _SINC_HALF + 1)
    u = k - pos
    w = np.i0(8.0 * np.sqrt(np.clip(1 - (u / (_SINC_HALF + 1)) ** 2, 0, None))) / np.i0(8.0)
    keep = (k >= 0) & (k < len(h))
    h[k[keep]] += (amp * np.sinc(u) * w)[keep]


def _delay(x: np.ndarray, samples: float) -> np.ndarray:
    """``x`` delayed by a (possibly fractional) number of samples, same length."""
    if float(samples).is_integer():
        d = int(samples)
        out = np.zeros_like(x)
        out[d:] = x[: len(x) - d] if d < len(x) else out[d:]
        return out
    h = np.zeros(math.ceil(samples) + _SINC_HALF + 1)
    _add_impulse(h, samples, 1.0)
    return sps.oaconvolve(x, h)[: len(x)]


def _peaking_sos(f0: float, gain_db: float, q: float, fs: int) -> np.ndarray:
    """RBJ cookbook peaking equaliser as one second-order section."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * f0 / fs
    alpha = math.sin(w0) / (2 * q)
    cw = math.cos(w0)
    b = np.array([1 + alpha * a, -2 * cw, 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * cw, 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


def _tilt_fir(db_per_octave: float, fs: int, taps: int = 8192) -> np.ndarray:
    """Minimum-phase FIR with gain ``db_per_octave * log2(f / 1 kHz)`` (20 Hz-20 kHz clamp).

    Minimum phase (by the real cepstrum) because a loudspeaker is causal and
    its energy arrives at once: a linear-phase filter would smear sound ahead
    of the direct arrival and move the onset the analysis measures.
    """
    nfft = 1 << 16
    f = np.fft.rfftfreq(nfft, 1 / fs)
    fc = np.clip(f, 20.0, min(20000.0, fs / 2))
    log_mag = db_per_octave * np.log2(fc / 1000.0) * math.log(10) / 20
    cep = np.fft.irfft(log_mag, nfft)
    fold = np.zeros(nfft)
    fold[0] = cep[0]
    fold[1 : nfft // 2] = 2 * cep[1 : nfft // 2]
    fold[nfft // 2] = cep[nfft // 2]
    h = np.fft.irfft(np.exp(np.fft.rfft(fold)), nfft)[:taps]
    fade = taps // 8
    h[-fade:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade))
    return h
