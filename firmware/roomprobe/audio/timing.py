"""Where the sweep starts in a capture, and how far the interface's two clocks disagree.

pyalsaaudio cannot link playback and capture (no ``snd_pcm_link``), so the
offset between the first sample played and the capture's first sample differs
on every run, by tens to thousands of milliseconds on the PulseAudio path.
The interface's second output is wired straight back into its second input
(the loopback reference, as REW does): the sweep arrives on that channel with
no delay of the room's, so its arrival marks time zero for the return channel.

A USB interface's DAC and ADC may run from different clocks. Then a sample
played at time ``t`` is captured at ``t (1 + drift)``: over a sweep, the
reference's arrival drifts by ``drift · t``. The exponential sweep maps time to
frequency (``t(f) = L ln(f / f1)``), so the reference's delay measured in
several octave bands, plotted against the time each band was played, is a line
whose slope is the drift. Resampling the capture by ``1 / (1 + drift)`` undoes
it before the return is deconvolved, which keeps the impulse response sharp
(an uncorrected drift of 100 ppm smears a 10 s sweep's response over 48
samples at the top of the band).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from .sweep import Sweep, fft_length, transfer

#: The reference counts as connected when this share of its response's energy lies
#: within 2 ms of its peak: a wire gives nearly all of it, noise a tiny part.
REFERENCE_MIN_SHARE = 0.5


@dataclass(frozen=True)
class Timing:
    present: bool  # the loopback reference was found
    start_index: float  # capture index (sub-sample) where the sweep's first sample arrives
    drift_ppm: float  # capture clock relative to playback clock, parts per million
    share: float  # share of the reference response's energy within 2 ms of its peak


def _band_delay(spectrum: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> float:
    """Group delay (samples) of a band of the response: the peak of its envelope.

    The band is tapered (Hann across it) so its impulse has no long sinc tails,
    and made one-sided so the inverse transform is the analytic signal, whose
    magnitude is the envelope; a parabola through the log envelope's three top
    samples gives the peak to a small fraction of a sample.
    """
    band = (freqs >= lo) & (freqs <= hi)
    taper = np.zeros(len(freqs))
    taper[band] = np.hanning(int(band.sum()) + 2)[1:-1]
    n = 2 * (len(freqs) - 1)
    analytic = np.zeros(n, dtype=complex)
    analytic[: len(freqs)] = 2 * spectrum * taper
    env = np.abs(np.fft.ifft(analytic))
    k = int(np.argmax(env[: n // 2]))
    a, b, c = (math.log(max(env[(k + i) % n], 1e-300)) for i in (-1, 0, 1))
    denom = a - 2 * b + c
    return k + (0.5 * (a - c) / denom if denom < 0 else 0.0)


def reference_timing(sweep: Sweep, reference: np.ndarray) -> Timing:
    """Arrival and clock drift from the loopback channel of a capture."""
    n = fft_length(sweep, reference)
    h_f, freqs = transfer(sweep, reference, n)
    # Presence is judged where the sweep is strong (not its faded ends, where
    # dividing by little energy magnifies noise).
    strong = (freqs >= max(200.0, sweep.f1)) & (freqs <= sweep.f2 / 2)
    head = np.fft.irfft(np.where(strong, h_f, 0), n)[: n // 2] ** 2
    k = int(np.argmax(head))
    near = round(0.002 * sweep.fs)
    total = float(head.sum())
    share = float(head[max(k - near, 0) : k + near].sum()) / total if total > 0 else 0.0
    if share < REFERENCE_MIN_SHARE:
        return Timing(False, math.nan, math.nan, share)
    # Octave bands from 250 Hz to half the sweep's top: each band's delay against
    # the time the sweep passed through it.
    played_at, delays = [], []
    lo = max(250.0, sweep.f1 * 2)
    while lo * 2 <= sweep.f2 / 1.5:
        centre = lo * math.sqrt(2)
        played_at.append(sweep.rate_l * math.log(centre / sweep.f1) * sweep.fs)
        delays.append(_band_delay(h_f, freqs, lo, lo * 2))
        lo *= 2
    if len(delays) >= 3:
        slope, intercept = np.polyfit(played_at, delays, 1)
    else:  # too narrow a sweep to see drift: time from the broadband peak
        slope, intercept = 0.0, float(k)
    # A stretched capture also shifts every frequency by the drift, which the
    # deconvolution reads as a further delay of L·drift: take it off the intercept.
    start = float(intercept) - float(slope) * sweep.rate_l * sweep.fs
    return Timing(True, start, float(slope) * 1e6, share)


def _smooth_lengths(lo: int, hi: int) -> list[int]:
    """Every 2^a 3^b 5^c 7^d in [lo, hi]: lengths the FFT handles fast."""
    out = []
    p2 = 1
    while p2 <= hi:
        p3 = p2
        while p3 <= hi:
            p5 = p3
            while p5 <= hi:
                p7 = p5
                while p7 <= hi:
                    if p7 >= lo:
                        out.append(p7)
                    p7 *= 7
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return out


def correct_drift(capture: np.ndarray, drift_ppm: float) -> np.ndarray:
    """Resample a capture (frames x channels, or mono) onto the playback clock.

    Fourier resampling (scipy ``resample``) of the capture padded to ``m``
    points onto ``m / (1 + drift)`` points. Both must be whole, so ``m`` is
    chosen among the FFT-friendly lengths up to twice the capture as the one
    whose ``m / (1 + drift)`` is nearest a whole number: the ratio is then
    right to a few parts per billion. (Rounding ``m / (1 + drift)`` for an
    arbitrary ``m`` errs by up to 2 ppm, which shifts a sweep's top by half a
    sample by its end.) A polyphase filter would need a fraction with a
    denominator near a million, and a filter as long.
    """
    if not math.isfinite(drift_ppm) or abs(drift_ppm) < 0.5:
        return capture
    if abs(drift_ppm) > 2000:
        raise ValueError(f"drift of {drift_ppm:.0f} ppm is not a clock difference; check the rate")
    ratio = 1 + drift_ppm * 1e-6
    n = capture.shape[0]
    m = min(_smooth_lengths(n, 2 * n), key=lambda k: abs(k / ratio - round(k / ratio)))
    pad = [(0, m - n)] + [(0, 0)] * (capture.ndim - 1)
    out = signal.resample(np.pad(capture, pad), round(m / ratio), axis=0)
    return out[: round(n / ratio)]
