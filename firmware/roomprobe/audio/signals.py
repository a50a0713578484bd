"""Test signals that stand for real things in a meeting room, for the simulated room and tests.

Each generator models one physical source the audio probe must recognise or
survive: the room's background noise (pink), electronic hiss (white), a ground
loop's mains hum, acoustic feedback (howl) and people talking. They are pure
numpy/scipy, float64, and deterministic for a seed (each call makes its own
``numpy.random.Generator``; no global random state), so a test that fails
fails the same way every time. Levels are RMS in dBFS (0 dBFS = RMS of a
full-scale square wave, i.e. amplitude 1), because that is what a level meter
on the capture reads.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as sps

DEFAULT_HUM_HARMONICS: dict[int, float] = {2: -12.0, 3: -6.0, 5: -15.0}
"""Harmonics of a typical ground loop, dB relative to the fundamental.

The 3rd is strong because transformer cores and rectifier charging currents
draw non-sinusoidal current; the 2nd comes from half-wave asymmetry.
"""


def _rms_scale(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    """Scale ``x`` so its RMS is ``level_dbfs``; silence stays silence."""
    rms = float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0
    if rms == 0.0:
        return x
    return x * (10 ** (level_dbfs / 20) / rms)


def _check_n(n: int) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")


def white_noise(n: int, seed: int, level_dbfs: float) -> np.ndarray:
    """Gaussian white noise: the hiss of an interface's or mixer's electronics.

    Thermal and shot noise are flat in frequency, so this is what a badly gain
    staged line (mixer output turned down, interface input turned up) adds.
    """
    _check_n(n)
    return _rms_scale(np.random.default_rng(seed).standard_normal(n), level_dbfs)


def pink_noise(
    n: int, seed: int, level_dbfs: float, *, fs: int = 48000, f_low: float = 20.0
) -> np.ndarray:
    """Pink noise (power falling 3 dB per octave): the background noise of an occupied room.

    Traffic, ventilation and murmur have roughly equal energy per octave. The
    spectrum is shaped in the frequency domain (white Gaussian spectrum times
    1/sqrt(f)), which is exact, unlike IIR approximations. Below ``f_low`` it is
    cut off, as pink noise for audio is band-limited: without the cut a long
    signal would put most of its energy below hearing and the RMS would say
    little about what a microphone hears.
    """
    _check_n(n)
    if n == 0:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / fs)
    shape = np.zeros_like(f)
    keep = f >= max(f_low, fs / n)
    shape[keep] = 1 / np.sqrt(f[keep])
    return _rms_scale(np.fft.irfft(spec * shape, n), level_dbfs)


def hum(
    n: int, fs: int, level_dbfs: float, mains_hz: float = 50.0,
    harmonics: dict[int, float] | None = None, seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """Mains hum of a ground loop: the fundamental at ``level_dbfs`` RMS plus its harmonics.

    A ground loop between the mixer and the interface (two earthed mains
    plugs) puts mains-frequency current through the cable screen. The phases
    of the harmonics are random (seeded) because they depend on the loads on
    the mains, not on anything the probe does. ``harmonics`` maps order to
    level in dB relative to the fundamental (default: 2nd -12, 3rd -6, 5th -15).
    """
    _check_n(n)
    if fs <= 0:
        raise ValueError(f"fs must be > 0, got {fs}")
    if mains_hz <= 0:
        raise ValueError(f"mains_hz must be > 0, got {mains_hz}")
    harmonics = DEFAULT_HUM_HARMONICS if harmonics is None else harmonics
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    amp = math.sqrt(2) * 10 ** (level_dbfs / 20)
    x = amp * np.sin(2 * np.pi * mains_hz * t)
    for order, rel_db in sorted(harmonics.items()):
        f = order * mains_hz
        if f >= fs / 2:
            continue
        x += amp * 10 ** (rel_db / 20) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return x


def howl(
    n: int, fs: int, freq_hz: float, level_dbfs: float, onset_s: float = 0.0,
    growth_s: float = 0.3,
) -> np.ndarray:  # fmt: skip
    """Acoustic feedback: a sine that grows from ``onset_s`` to ``level_dbfs`` RMS, then holds.

    When the loop microphone -> amplifier -> loudspeaker -> air -> microphone
    has gain above 1 at some frequency, that frequency grows exponentially
    (a straight line in dB: here from -60 dB to full level over ``growth_s``)
    until something limits it, then it holds. The frequency wobbles by
    +-0.5 Hz over a few seconds, as the loop's phase shifts with air movement
    and people, which is why a real howl is not a perfectly pure tone.
    """
    _check_n(n)
    if not 0 < freq_hz < fs / 2:
        raise ValueError(f"freq_hz must be in (0, fs/2), got {freq_hz}")
    if growth_s < 0:
        raise ValueError(f"growth_s must be >= 0, got {growth_s}")
    t = np.arange(n) / fs
    f_inst = freq_hz + 0.5 * np.sin(2 * np.pi * 0.2 * t)
    phase = 2 * np.pi * np.cumsum(f_inst) / fs
    since = t - onset_s
    if growth_s > 0:
        env_db = np.clip(-60.0 * (1 - since / growth_s), -60.0, 0.0)
        env = 10 ** (env_db / 20)
    else:
        env = np.ones(n)
    env[since < 0] = 0.0
    return math.sqrt(2) * 10 ** (level_dbfs / 20) * env * np.sin(phase)


def _resonator(freq: float, bw: float, fs: int) -> np.ndarray:
    """One formant: a two-pole resonance at ``freq`` with bandwidth ``bw``, unity gain at DC."""
    r = math.exp(-math.pi * bw / fs)
    c = 2 * r * math.cos(2 * math.pi * freq / fs)
    return np.array([1 - c + r * r, 0.0, 0.0, 1.0, -c, r * r])


def _raised_envelope(n: int, attack: int, release: int) -> np.ndarray:
    """Flat-topped envelope with raised-cosine edges (no clicks at syllable boundaries)."""
    env = np.ones(n)
    attack, release = min(attack, n // 2), min(release, n // 2)
    if attack:
        env[:attack] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, attack))
    if release:
        env[n - release :] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, release))
    return env


def _voiced(
    n: int, fs: int, f0_start: float, f0_end: float, rng: np.random.Generator
) -> np.ndarray:
    """A vowel: glottal pulse train through formant resonators."""
    f0 = np.linspace(f0_start, f0_end, n) * (1 + 0.01 * rng.standard_normal(n).cumsum() / n**0.5)
    phase = np.cumsum(f0 / fs)
    pulses = np.zeros(n)
    pulses[1:][np.diff(np.floor(phase)) > 0] = 1.0
    # Glottal flow falls 12 dB/octave above ~80 Hz; radiation from the lips adds
    # +6 dB/octave (a differentiator): the net source slope is -6 dB/octave.
    p = math.exp(-2 * math.pi * 80 / fs)
    src = sps.lfilter([1.0, -1.0], [1.0, -2 * p, p * p], pulses)
    src += 0.02 * rng.standard_normal(n) * np.std(src)  # breathiness
    formants = [
        (rng.uniform(300, 800), rng.uniform(60, 90)),
        (rng.uniform(900, 2300), rng.uniform(90, 120)),
        (rng.uniform(2500, 3000), rng.uniform(120, 170)),
        (rng.uniform(3300, 3700), 200.0),
    ]
    sos = np.array([_resonator(f, b, fs) for f, b in formants])
    return sps.sosfilt(sos, src)


def _fricative(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """An unvoiced consonant (s, f, sh, h): turbulent noise, high-passed.

    The front cavity that shapes the hiss also limits it: above ~9 kHz it
    falls off, so the top octave carries little of speech's energy.
    """
    hp = sps.butter(4, rng.uniform(2500, 4500), "highpass", fs=fs, output="sos")
    lp = sps.butter(2, min(9000.0, 0.45 * fs), "lowpass", fs=fs, output="sos")
    return sps.sosfilt(np.concatenate([hp, lp]), rng.standard_normal(n))


def _syllable(length: int, fs: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    """Optional fricative onset, voiced nucleus, optional fricative coda, edges smoothed."""
    f_on = round(rng.uniform(0.03, 0.09) * fs) if rng.random() < 0.35 else 0
    f_off = round(rng.uniform(0.03, 0.09) * fs) if rng.random() < 0.2 else 0
    f_on, f_off = min(f_on, length // 4), min(f_off, length // 4)
    n_v = length - f_on - f_off
    f0_a = float(np.clip(f0, 100, 220))
    f0_b = float(np.clip(f0 * rng.uniform(0.85, 1.12), 100, 220))
    vowel = _voiced(n_v, fs, f0_a, f0_b, rng)
    vowel /= np.sqrt(np.mean(vowel**2)) or 1.0
    # The vowel swells and fades (peak about 40 % in): loudness rises and falls
    # once per syllable, which is what makes the 2-8 Hz envelope modulation.
    vowel *= np.sin(np.pi * np.linspace(0.0, 1.0, n_v) ** 0.75)
    parts = []
    for flen in (f_on, f_off):
        if not flen:
            parts.append(np.zeros(0))
            continue
        fric = _fricative(flen, fs, rng)
        fric *= 10 ** (rng.uniform(-12, -6) / 20) / (np.sqrt(np.mean(fric**2)) or 1.0)
        parts.append(fric * _raised_envelope(flen, flen // 3, flen // 3))
    return np.concatenate([parts[0], vowel, parts[1]])


def speech_like(seconds: float, fs: int, seed: int, level_dbfs: float = -30.0) -> np.ndarray:
    """One person talking: what the room microphones hear during a meeting.

    Syllables of 120-300 ms at about 4 a second (the 2-8 Hz envelope
    modulation that distinguishes speech from noise and music), in phrases of
    3-8 syllables separated by pauses of 0.2-0.8 s. Each syllable has a voiced
    nucleus (glottal pulses at a pitch gliding within 100-220 Hz, declining
    over the phrase, through four formant resonators set per syllable: F1
    300-800, F2 900-2300, F3 2500-3000, F4 ~3500 Hz) and sometimes an unvoiced
    fricative onset or coda (high-passed noise). The RMS over the syllables
    (pauses excluded, as a speech level meter gates them) is ``level_dbfs``.
    """
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    rng = np.random.default_rng(seed)
    n = round(seconds * fs)
    out = np.zeros(n)
    active = np.zeros(n, dtype=bool)
    t = rng.uniform(0.05, 0.25)
    while t < seconds:
        base_f0 = rng.uniform(150, 200)
        for k in range(int(rng.integers(3, 9))):
            start = round(t * fs)
            length = min(round(rng.uniform(0.12, 0.30) * fs), n - start)
            if length < round(0.06 * fs):
                break
            f0 = base_f0 * (1 - 0.04 * k) * rng.uniform(0.85, 1.15)  # declination
            out[start : start + length] = _syllable(length, fs, f0, rng)
            active[start : start + length] = True
            t = (start + length) / fs + rng.uniform(0.0, 0.06)
        t += rng.uniform(0.2, 0.8)
    rms = float(np.sqrt(np.mean(out[active] ** 2))) if active.any() else 0.0
    if rms > 0:
        out *= 10 ** (level_dbfs / 20) / rms
    return out
