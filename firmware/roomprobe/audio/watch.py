"""The passive watch: what the mixer's return says about the room, block by block, always.

The capture runs all the time, so this runs on every captured block and must
cost next to nothing (DESIGN.md rule 5): the audio is cut into blocks of
``block_s`` (100 ms), each block gets vectorised statistics and ONE rectangular
``rfft`` per channel. The Hann spectrum (hum, feedback) and the 4-term
Blackman-Harris spectrum (speech) are both derived from that one transform by
convolving it with the window's 3 or 7 non-zero DFT coefficients, which is
exact for cosine-sum windows and far cheaper than a second transform.

What it reports, per channel, over a window (the time since the last
``summary()``):

* level: RMS and peak in dBFS (0 dBFS = RMS of a full-scale square, so a
  full-scale sine reads -3 dBFS, like the test signals and a level meter);
* clipping: runs of >= 3 samples at or above 0.999 of full scale (one sample
  at full scale is a legal peak; three in a row means the converter or the
  mixer ran out of headroom);
* dropouts: USB audio that was lost without an ALSA error comes back as exact
  zeros in the middle of a signal that otherwise has a noise floor. A run of
  exact zeros of 2 ms to 0.5 s with live signal (above -100 dBFS) in the
  10 ms on both sides counts; longer runs are a muted or disconnected source,
  and a channel that is zeros all along is "silent", not broken;
* noise floor: the 10th percentile of 20 ms frame RMS (the level of the
  quietest moments, which speech does not reach because people pause);
* mains hum: the 50 Hz (or 60 Hz) family, harmonics 1-5, from the block
  spectra averaged over each second, and present if at least half of the
  window's seconds have it;
* acoustic feedback: persistent narrow peaks, by the howling criteria of van
  Waterschoot & Moonen, "Fifty years of acoustic feedback control", Proc.
  IEEE 99(2), 2011: peak-to-average (PAPR), peak-to-neighbouring (PNPR),
  peak-to-harmonic (PHPR) power ratios and peak persistence (a line that
  holds its frequency for 0.5 s without fading, as a howl grows and holds);
* meeting activity on channel 0 (the return): speech, which gates the active
  test (DESIGN.md rule 1). Speech is energy in 300-3400 Hz at least 10 dB
  over the quiet level tracked per band, with the rise and fall of syllables
  in its envelope; ``active`` holds for ``hangover_s`` after the last speech
  block. While the probe itself plays, the loopback reference (channel 1)
  shows where its tone is, and those bands (with the ones the room still
  rings with, and their harmonics) are left out, so the probe's sweep is not
  taken for people and people talking over it still are.

Known blind spots, accepted because the alternatives cost more than they
save: a digital noise gate that closes for under 0.5 s reads as a dropout; a
howl within +-10 Hz of a mains harmonic 1-5 (up to 250 or 300 Hz) is not
reported as feedback; hum is judged with the 10 Hz bins of 100 ms blocks, so
it must stand out of the room noise in a 10 Hz band; a howl loud enough to
drown speech hides about half of it; without the reference wire, the probe's
own sweep heard through a reverberant room reads as people (the safety guard
of the active test excludes the tone itself).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# --- levels -----------------------------------------------------------------------------------

#: Below this a 20 ms frame is "nothing": the best 24-bit converters' noise is around -110 dBFS
#: and a 16-bit one's around -98, so anything quieter is digital silence or a disconnected input.
SILENT_DBFS = -100.0
#: Integer PCM formats and their full scale (ALSA S16_LE and S32_LE).
_INT_FULL_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}
_EPS = 1e-20  # power added before log10, so silence is a finite number where one is needed

# --- clipping and dropouts --------------------------------------------------------------------

CLIP_LEVEL = 0.999  # int16's largest positive sample is 0.99997: it counts
CLIP_MIN_RUN = 3
DROPOUT_MIN_S = 0.002  # two USB packets (1 ms each): shorter runs happen in quiet 16-bit audio
DROPOUT_MAX_S = 0.5  # longer is a muted or unplugged source, not lost packets
DROPOUT_CONTEXT_S = 0.010  # how much signal on each side of a run must be live

# --- noise floor ------------------------------------------------------------------------------

FRAME_S = 0.020
NOISE_PERCENTILE = 10.0
_HIST_LO_DB, _HIST_STEP_DB, _HIST_BINS = -150.0, 0.25, 640  # -150 .. +10 dBFS

# --- hum --------------------------------------------------------------------------------------

HUM_HARMONICS = 5
#: A hum line must stand this far above the spectrum between the lines (same resolution)...
HUM_PROMINENCE_DB = 15.0
#: ...and the family be at least this loud: below it no one hears it over a room's noise.
HUM_MIN_DBFS = -70.0
#: Lines this far above their neighbours count towards the reported family level.
HUM_TONAL_DB = 6.0
#: Hum is judged on the mean spectrum of each second (10 Hz bins need averaging: 10 blocks bring
#: the spread of a noise bin's power from about 5 dB to 1.5 dB), and the window has hum when
#: at least half of its seconds have. A ground loop hums all the time; the test sweep passing
#: through the low band, or a talker's pitch sitting on 100 or 150 Hz, lasts a second or two.
HUM_SEGMENT_S = 1.0
HUM_MIN_S = 0.5  # a last, partial second counts if it is at least this long

# --- acoustic feedback ------------------------------------------------------------------------

FEEDBACK_BAND_HZ = (100.0, 16000.0)
#: Peak over the mean power of the band: a howl dominates the whole spectrum.
FEEDBACK_PAPR_DB = 10.0
#: Peak over the mean of 4 bins on EACH side, 30-60 Hz away (Hann main lobe is +-2 bins):
#: a howl is a line, while a formant or the sweep's smear is broad.
FEEDBACK_PNPR_DB = 15.0
#: Peak over its 2nd harmonic: voiced speech, singing and mains buzz have one, a howl does
#: not (even one clipped symmetrically only grows odd harmonics, so the 3rd is not used).
FEEDBACK_PHPR_DB = 10.0
#: A howl is loud (it grows until something limits it); a projector's whine is not feedback.
FEEDBACK_MIN_DBFS = -50.0
#: The same line, within +-1 bin (+-10 Hz) of where it was first seen, in consecutive blocks this
#: long. Syllables last 0.12-0.3 s and their pitch glides; the test sweep leaves a 10 Hz bin in
#: well under 0.5 s above 100 Hz; a howl holds for seconds.
FEEDBACK_PERSIST_S = 0.5
#: ...and, until it is confirmed, without falling this far below its loudest: a howl grows and
#: holds (van Waterschoot & Moonen's temporal features), while a harmonic of speech fades with
#: every syllable. Two syllables in a row at the same pitch pass every spectral test above.
FEEDBACK_MAX_FALL_DB = 6.0
_FB_BIN_TOL = 1.0
_FB_MAX_GAP = 1  # blocks a confirmed howl may miss (a level dip) without ending
_FB_MAX_CANDIDATES = 8  # peaks per block followed: bounds the Python work per block
_FB_MAX_REPORTED = 8

# --- speech -----------------------------------------------------------------------------------

SPEECH_BAND_HZ = (300.0, 3400.0)
SPEECH_BANDS = 16
#: Bands whose excess over their floor is highest are left out of the score: a howl or a test
#: tone sits in one band (two if it straddles an edge), while speech raises most of them.
SPEECH_DROP_BANDS = 2
#: Speech-band energy this far above the tracked quiet level...
SPEECH_SCORE_DB = 10.0
#: ...with the 20 ms envelope (first-differenced, so hum and rumble do not count) rising by
#: MOD_SWING_DB and falling by MOD_RETURN_DB (or the other way round) within MOD_WINDOW_S: a
#: syllable. A fan, hum and a steady howl are flat (20 ms frames of noise vary by about 1 dB);
#: a howl's growth or a fan switching on is a one-way step, not a rise AND a fall. The small
#: return catches a syllable as it starts to fade: talkers are heard within 0.3 s.
MOD_SWING_DB = 6.0
MOD_RETURN_DB = 3.0
MOD_WINDOW_S = 0.6
#: The quiet level is the minimum of each band over this long (minimum statistics, Martin 2001):
#: people pause between phrases well within it, and a steady noise that starts is learnt in it.
FLOOR_WINDOW_S = 5.0
#: The minimum of 50 blocks of a steady noise's band energy lies 4.2 dB below its mean (measured,
#: pink and white noise, 100 ms blocks): the floor is raised by this much so that a steady noise
#: scores about 0 dB and "10 dB above the floor" means 10 dB above the room's mean quiet level.
FLOOR_BIAS_DB = 4.0
#: While the probe plays, the loopback reference (channel 1) says where its tone is: speech bands
#: where the reference has been within REF_EXCLUDE_DB of the return, and above REF_LIVE_DBFS,
#: are left out of the speech decision, with their harmonics 2-5 (the loudspeakers distort).
#: The reference's band energies are held with a decay of REF_DECAY_DB_PER_S, so the bands the
#: tone left are excluded while the room still rings with them (a reverberation time of 2 s).
REF_EXCLUDE_DB = 40.0
REF_LIVE_DBFS = -90.0
REF_DECAY_DB_PER_S = 30.0
#: Blackman-Harris main lobe half-width in bins: excluded bands are widened by it, because a loud
#: tone at the edge of an excluded band leaks this far.
_BH_HALF_LOBE = 4

_HANN = (0.5, 0.5)
_BH4 = (0.35875, 0.48829, 0.14128, 0.01168)


def _db(power: float) -> float:
    """10 log10 of a power (mean square); zero power is -inf (digital silence)."""
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def _to_float(frames: np.ndarray) -> np.ndarray:
    """Float64 samples with full scale 1.0, from float or int16/int32 PCM."""
    scale = _INT_FULL_SCALE.get(frames.dtype)
    if scale is not None:
        return frames.astype(np.float64) / scale
    if not np.issubdtype(frames.dtype, np.floating):
        raise ValueError(f"frames must be float, int16 or int32, got dtype {frames.dtype}")
    return np.asarray(frames, dtype=np.float64)


def _window_spectrum(xr: np.ndarray, coeffs: Sequence[float], lo: int, hi: int) -> np.ndarray:
    """Bins ``lo..hi-1`` (last axis) of the spectrum of the cosine-sum-windowed block, from its
    plain rfft.

    A window ``sum_i (-1)^i a_i cos(2 pi i n / N)`` multiplies the DFT by a
    (2m+1)-tap kernel, so ``X_w[k] = sum_i (-1)^i a_i/2 (X[k-i] + X[k+i])``
    (with ``a_0`` whole). Bins outside ``0..N/2`` come from the conjugate
    symmetry of a real signal's spectrum (N must be even).
    """
    m = len(coeffs) - 1
    nb = xr.shape[-1]
    if lo < m or hi + m > nb:
        lower = np.conj(xr[..., m:0:-1])
        upper = np.conj(xr[..., -2 : -2 - m : -1])
        src = np.concatenate([lower, xr, upper], axis=-1)
        lo_e = lo + m
    else:
        lo_e, src = lo, xr
    n = hi - lo
    out = coeffs[0] * src[..., lo_e : lo_e + n]
    for i in range(1, m + 1):
        c = (-1) ** i * coeffs[i] / 2
        out = out + c * (src[..., lo_e - i : lo_e - i + n] + src[..., lo_e + i : lo_e + i + n])
    return out


def _power_norm(coeffs: Sequence[float], n: int) -> float:
    """Factor from |X_w|^2 to mean-square power per bin (one-sided): bins sum to the signal's
    mean square, so band energies do not depend on the block length."""
    c = coeffs[0] ** 2 + sum(a * a for a in coeffs[1:]) / 2
    return 2.0 / (n * n * c)


def _swing(env: np.ndarray) -> bool:
    """Whether an envelope (dB) rose and fell, or fell and rose, like syllables do.

    A syllable is a bump (quiet, loud, quieter), between syllables there is a
    dip; one side must move by ``MOD_SWING_DB``, the other by
    ``MOD_RETURN_DB`` (a syllable is caught as soon as it starts to fade, not
    when it has ended). A ramp (a howl growing, the test sweep) or a step (a
    fan switched on) has no return, however large it is.
    """
    if len(env) < 3:
        return False
    pre_min = np.minimum.accumulate(env)
    post_min = np.minimum.accumulate(env[::-1])[::-1]
    pre_max = np.maximum.accumulate(env)
    post_max = np.maximum.accumulate(env[::-1])[::-1]
    big, small = MOD_SWING_DB, MOD_RETURN_DB
    for a, b in ((env - pre_min, env - post_min), (pre_max - env, post_max - env)):
        if np.any(((a >= big) & (b >= small)) | ((a >= small) & (b >= big))):
            return True
    return False


def _band_score(energy: np.ndarray, floor: np.ndarray) -> float:
    """Speech-band energy over its quiet level, dB, without the bands that stand out most.

    Dropping the top bands makes the score deaf to one tone (a howl, a test
    tone the caller did not exclude) but not to speech, which is broadband.
    """
    nb = len(energy)
    if nb == 0:
        return -math.inf
    ratio = energy / floor
    drop = min(SPEECH_DROP_BANDS, (nb - 1) // 2)
    keep = np.argsort(ratio)[: nb - drop] if drop else slice(None)
    return 10.0 * math.log10(float(energy[keep].sum()) / float(floor[keep].sum()))


# --- results ----------------------------------------------------------------------------------


def _round_db(v: float | None) -> float | None:
    """0.1 dB, and None for -inf (silence) or a missing value: JSON has no infinity."""
    if v is None or not math.isfinite(v):
        return None
    return round(v, 1)


@dataclass(frozen=True)
class ChannelSummary:
    """One channel over a window. Levels are dBFS, -inf for digital silence.

    ``feedback`` lists confirmed howls as (Hz, seconds since the howl began,
    loudest level dBFS); a howl still going is listed again in the next
    window, with its whole length so far. ``hum_dbfs`` is None when no mains
    line stands out of the spectrum between the lines.
    """

    rms_dbfs: float
    peak_dbfs: float
    noise_floor_dbfs: float
    clip_events: int
    clipped_samples: int
    dropouts: int
    dropout_ms: float
    hum_dbfs: float | None  # level of the tonal hum lines (None: no line stands out, or silent)
    hum: bool
    feedback: tuple[tuple[float, float, float], ...]  # (hz, seconds, dbfs)
    silent: bool  # digital silence or below -100 dBFS all the window: no signal at all

    def to_dict(self) -> dict[str, Any]:
        return {
            "rms_dbfs": _round_db(self.rms_dbfs),
            "peak_dbfs": _round_db(self.peak_dbfs),
            "noise_floor_dbfs": _round_db(self.noise_floor_dbfs),
            "clip_events": self.clip_events,
            "clipped_samples": self.clipped_samples,
            "dropouts": self.dropouts,
            "dropout_ms": round(self.dropout_ms, 1),
            "hum_dbfs": _round_db(self.hum_dbfs),
            "hum": self.hum,
            "feedback": [
                {"hz": round(hz), "seconds": round(s, 1), "dbfs": _round_db(db)}
                for hz, s, db in self.feedback
            ],
            "silent": self.silent,
        }


@dataclass(frozen=True)
class WatchSummary:
    """The window since the last reset: every channel, and the room's activity (channel 0)."""

    seconds: float  # audio analysed in the window (whole blocks)
    channels: tuple[ChannelSummary, ...]
    speech_s: float  # seconds the room was active (speech, with the hangover)
    overruns: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: floats rounded to 0.1 (dB, s, ms), -inf levels as None."""
        return {
            "seconds": round(self.seconds, 1),
            "channels": [c.to_dict() for c in self.channels],
            "speech_s": round(self.speech_s, 1),
            "overruns": self.overruns,
        }


# --- per-channel trackers ---------------------------------------------------------------------


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the True runs of a boolean array."""
    d = np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


class _ClipRuns:
    """Runs of samples at full scale, carried across blocks (a run may straddle two)."""

    def __init__(self) -> None:
        self.open_len = 0  # length of the run still going at the end of the last block
        self.open_counted = 0  # samples of that run already counted by a summary
        self.events = 0
        self.samples = 0

    def _close(self, length: int) -> None:
        if length >= CLIP_MIN_RUN:
            if not self.open_counted:
                self.events += 1
            self.samples += length - self.open_counted
        self.open_counted = 0

    def feed(self, mask: np.ndarray | None) -> None:
        if mask is None:  # nothing at full scale in this block
            if self.open_len:
                self._close(self.open_len)
                self.open_len = 0
            return
        starts, ends = _runs(mask)
        n = len(mask)
        for j, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            length = e - s
            if j == 0:
                if s == 0:
                    length += self.open_len
                elif self.open_len:
                    self._close(self.open_len)
                self.open_len = 0
            if e == n:
                self.open_len = length
            else:
                self._close(length)
        if not len(starts) and self.open_len:
            self._close(self.open_len)
            self.open_len = 0

    def flush(self) -> None:
        """Count a run still going (a summary must not miss a channel stuck at full scale)."""
        if self.open_len >= CLIP_MIN_RUN:
            if not self.open_counted:
                self.events += 1
            self.samples += self.open_len - self.open_counted
            self.open_counted = self.open_len


class _ZeroRuns:
    """Runs of exact zeros, judged as dropouts when they end."""

    def __init__(self, fs: int) -> None:
        self.min_len = max(1, round(DROPOUT_MIN_S * fs))
        self.max_len = round(DROPOUT_MAX_S * fs)
        self.ctx = max(1, round(DROPOUT_CONTEXT_S * fs))
        self.live_ms = 10 ** (SILENT_DBFS / 10)
        self.open_len = 0
        self.open_ctx_ok = False  # live signal before the open run
        self.tail = np.zeros(0)  # the end of the previous block, for the context before a run
        self.count = 0
        self.samples = 0

    def _live(self, seg: np.ndarray) -> bool:
        return len(seg) > 0 and float(np.mean(seg * seg)) > self.live_ms

    def feed(self, x: np.ndarray, any_zero: bool) -> None:
        if any_zero:
            self._feed_runs(x)
        elif self.open_len:
            self._end(self.open_len, self.open_ctx_ok, x)
            self.open_len = 0
        self.tail = x[-self.ctx :].copy()

    def _feed_runs(self, x: np.ndarray) -> None:
        starts, ends = _runs(x == 0)
        n = len(x)
        lengths = ends - starts
        if self.open_len and (not len(starts) or starts[0] != 0):
            self._end(self.open_len, self.open_ctx_ok, x)
            self.open_len = 0
        # Only long runs and those touching the block's edges matter; a quiet int16 signal
        # has many short ones, which are skipped here without a Python loop.
        keep = (lengths >= self.min_len) | (starts == 0) | (ends == n)
        for s, e in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
            length = e - s
            if s == 0 and self.open_len:
                length += self.open_len
                ctx_ok = self.open_ctx_ok
            else:
                before = x[max(0, s - self.ctx) : s]
                if len(before) < self.ctx:
                    before = np.concatenate([self.tail[len(self.tail) - (self.ctx - s) :], before])
                ctx_ok = self._live(before)
            self.open_len = 0
            if e == n:
                self.open_len, self.open_ctx_ok = length, ctx_ok
            else:
                self._end(length, ctx_ok, x[e : e + self.ctx])

    def _end(self, length: int, ctx_ok: bool, after: np.ndarray) -> None:
        if self.min_len <= length <= self.max_len and ctx_ok and self._live(after[: self.ctx]):
            self.count += 1
            self.samples += length


@dataclass
class _Track:
    """A spectral line followed from block to block (a feedback candidate)."""

    anchor: float  # bin where it is expected (fixed until confirmed, then follows slow drift)
    first: int  # block index of its first and last appearance
    last: int
    bins: float  # sum of the bins it was seen at (for the mean frequency)
    count: int
    power: float  # loudest power seen (mean square)


class PassiveWatch:
    """Block statistics of the capture, summarised on demand; speech activity on channel 0.

    One thread feeds, others may read ``active``, ``summary()`` and
    ``speech_score()``: shared state is touched under a lock, taken per block
    so a reader never waits for more than one block's work.
    """

    def __init__(
        self, fs: int = 48000, channels: int = 2, *, mains_hz: float = 50.0,
        block_s: float = 0.1, hangover_s: float = 1.0,
    ) -> None:  # fmt: skip
        if fs <= 0 or channels < 1:
            raise ValueError(f"need fs > 0 and channels >= 1, got fs={fs}, channels={channels}")
        if mains_hz <= 0 or hangover_s < 0 or block_s <= 0:
            raise ValueError(
                f"need mains_hz > 0, block_s > 0, hangover_s >= 0; got {mains_hz}, {block_s}, "
                f"{hangover_s}"
            )
        self.fs = fs
        self.channels = channels
        self.mains_hz = float(mains_hz)
        self.hangover_s = float(hangover_s)
        self._frame_n = max(2, 2 * round(FRAME_S * fs / 2))  # even, so blocks are even
        self._fpb = max(1, round(block_s / FRAME_S))
        self._n = self._fpb * self._frame_n
        self.block_s = self._n / fs
        df = fs / self._n
        self._df = df
        if mains_hz / df < 4 or HUM_HARMONICS * mains_hz + 3 * df >= fs / 2:
            raise ValueError(
                f"block_s={block_s} gives {df:.1f} Hz bins at fs={fs}: hum at {mains_hz} Hz "
                "needs its lines at least 4 bins apart (block_s >= 4 / mains_hz)"
            )
        nbins = self._n // 2 + 1
        self._setup_hum(nbins)
        self._setup_feedback(nbins)
        self._setup_speech()
        self._lock = threading.Lock()
        self._pending = np.zeros((channels, 0))
        self._blocks = 0  # since the watch started (the time base of activity and tracks)
        self._prev0 = 0.0  # last sample of channel 0 (for the first difference)
        self._env = np.full(max(3, round(MOD_WINDOW_S / FRAME_S)), -200.0)
        self._scores = np.full(max(3, round(MOD_WINDOW_S / self.block_s)), -100.0)
        nfloor = max(1, round(FLOOR_WINDOW_S / self.block_s))
        self._band_hist = np.full((nfloor, SPEECH_BANDS), np.inf)
        self._band_pos = 0
        self._last_speech: int | None = None
        self._clips = [_ClipRuns() for _ in range(channels)]
        self._zeros = [_ZeroRuns(fs) for _ in range(channels)]
        self._tracks: list[list[_Track]] = [[] for _ in range(channels)]
        self._overruns = 0
        self._hist_rows = np.arange(channels)[:, None].repeat(self._fpb, 1)
        self._reset_window()

    # --- setup --------------------------------------------------------------------------------

    def _setup_hum(self, nbins: int) -> None:
        """Hum line bins and, for each, the bins between lines that serve as its reference."""
        spacing = self.mains_hz / self._df
        lines = np.array([round(h * spacing) for h in range(HUM_HARMONICS + 2)])
        self._hum_bins = lines[1 : HUM_HARMONICS + 1]
        refs = []
        span = math.ceil(spacing)
        for k in self._hum_bins.tolist():
            cand = np.arange(max(1, k - span), min(nbins, k + span + 1))
            dist = np.min(np.abs(cand[:, None] - lines[None, :]), axis=1)
            refs.append(cand[dist >= 2])
        self._hum_refs = refs
        self._hum_top = int(self._hum_bins[-1] + span + 2)

    def _setup_feedback(self, nbins: int) -> None:
        lo = max(7, math.ceil(FEEDBACK_BAND_HZ[0] / self._df))
        hi = min(nbins - 7, math.floor(min(FEEDBACK_BAND_HZ[1], self.fs / 2) / self._df))
        self._fb_lo, self._fb_hi = lo, hi
        k = np.arange(lo, hi)
        allowed = np.ones(hi - lo, dtype=bool)
        for b in self._hum_bins.tolist():  # the hum family is judged as hum, not as feedback
            allowed &= np.abs(k - b) > 1
        self._fb_allowed = allowed
        self._fb_persist = max(2, round(FEEDBACK_PERSIST_S / self.block_s))
        self._nbins = nbins

    def _setup_speech(self) -> None:
        self._band_edges_hz = np.linspace(*SPEECH_BAND_HZ, SPEECH_BANDS + 1)
        edges = np.round(self._band_edges_hz / self._df).astype(int)
        self._sp_lo, self._sp_hi = int(edges[0]), int(edges[-1])
        self._sp_offsets = edges[:-1] - edges[0]
        self._sp_norm = _power_norm(_BH4, self._n)
        self._hann_norm = _power_norm(_HANN, self._n)
        lo, hi = self._band_edges_hz[:-1], self._band_edges_hz[1:]
        harm = np.zeros((SPEECH_BANDS, SPEECH_BANDS), dtype=bool)  # [b, h]: h holds b's harmonic
        for n in range(2, 6):
            harm |= (n * lo[:, None] < hi[None, :]) & (n * hi[:, None] > lo[None, :])
        self._harmonic_bands = harm.T
        self._ref_hold = np.zeros(SPEECH_BANDS)
        self._all_bands = np.ones(SPEECH_BANDS, dtype=bool)
        width = (SPEECH_BAND_HZ[1] - SPEECH_BAND_HZ[0]) / SPEECH_BANDS
        self._floor_min = 10 ** (SILENT_DBFS / 10) * width / (self.fs / 2)
        self._ref_decay = 10 ** (-REF_DECAY_DB_PER_S * self.block_s / 10)
        self._ref_live = 10 ** (REF_LIVE_DBFS / 10)
        self._ref_near = 10 ** (REF_EXCLUDE_DB / 10)
        self._seg_len = max(1, round(HUM_SEGMENT_S / self.block_s))

    def _reset_window(self) -> None:
        c = self.channels
        self._w_blocks = 0
        self._w_sumsq = np.zeros(c)
        self._w_peak = np.zeros(c)
        self._w_frame_max = np.zeros(c)
        self._w_hist = np.zeros((c, _HIST_BINS), dtype=np.int64)
        self._seg_hum = np.zeros((c, self._hum_top))
        self._seg_blocks = 0
        self._w_hum: list[list[tuple[float | None, bool]]] = [[] for _ in range(c)]
        self._w_feedback: list[list[tuple[float, float, float]]] = [[] for _ in range(c)]
        self._w_active_blocks = 0
        self._w_clip = [(t.events, t.samples) for t in self._clips]
        self._w_zero = [(t.count, t.samples) for t in self._zeros]
        self._overruns = 0

    # --- feeding ------------------------------------------------------------------------------

    def feed(self, frames: np.ndarray) -> None:
        """Analyse captured frames (n, channels), any n: a partial block waits for the next call."""
        frames = np.asarray(frames)
        if frames.ndim == 1 and self.channels == 1:
            frames = frames[:, None]
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            raise ValueError(
                f"frames must have shape (n, {self.channels}), got shape {frames.shape}"
            )
        # Channel-first and contiguous: numpy reduces along rows 10-20x faster than down columns.
        x = np.ascontiguousarray(_to_float(frames).T)
        if self._pending.shape[1]:
            x = np.concatenate([self._pending, x], axis=1)
        n = self._n
        full = x.shape[1] // n * n
        for i in range(0, full, n):
            with self._lock:
                self._process(x[:, i : i + n])
        self._pending = x[:, full:].copy()

    def note_overrun(self) -> None:
        """The capture loop saw an ALSA overrun (audio lost with an error, unlike a dropout)."""
        with self._lock:
            self._overruns += 1

    def _process(self, x: np.ndarray) -> None:
        """One block, channel-first (channels, n)."""
        c, fn = self.channels, self._frame_n
        peak = np.maximum(x.max(axis=1), -x.min(axis=1))
        np.maximum(self._w_peak, peak, out=self._w_peak)
        frames = x.reshape(c * self._fpb, fn)
        ms = (np.einsum("ij,ij->i", frames, frames) / fn).reshape(c, self._fpb)
        self._w_sumsq += ms.sum(axis=1) * fn
        np.maximum(self._w_frame_max, ms.max(axis=1), out=self._w_frame_max)
        with np.errstate(divide="ignore"):
            db = 10 * np.log10(ms)
        idx = np.clip((db - _HIST_LO_DB) / _HIST_STEP_DB, 0, _HIST_BINS - 1).astype(np.intp)
        np.add.at(self._w_hist, (self._hist_rows, idx), 1)
        nonzero = np.count_nonzero(x, axis=1)
        for ch in range(c):
            clip = self._clips[ch]
            if peak[ch] >= CLIP_LEVEL:
                clip.feed(np.abs(x[ch]) >= CLIP_LEVEL)
            elif clip.open_len:
                clip.feed(None)
            self._zeros[ch].feed(x[ch], bool(nonzero[ch] < self._n))
        xr = np.fft.rfft(x, axis=1)
        hann = _window_spectrum(xr, _HANN, 0, self._nbins)
        p = (hann.real**2 + hann.imag**2) * self._hann_norm
        self._seg_hum += p[:, : self._hum_top]
        self._seg_blocks += 1
        if self._seg_blocks >= self._seg_len:
            for ch in range(c):
                self._w_hum[ch].append(self._hum_segment(ch))
            self._seg_hum[:] = 0.0
            self._seg_blocks = 0
        for ch, lines in enumerate(self._candidates(p)):
            self._feedback(ch, lines)
        self._speech(x[0], xr[0], xr[1] if c > 1 else None)
        self._blocks += 1
        self._w_blocks += 1
        if self._active_now():
            self._w_active_blocks += 1

    # --- feedback -----------------------------------------------------------------------------

    def _candidates(self, p: np.ndarray) -> list[list[tuple[float, float]]]:
        """Lines in this block that look like howling, per channel: (refined bin, power).

        ``p`` is the Hann power spectrum, (channels, bins); all channels are
        judged at once, as numpy's per-call overhead is most of the cost here.
        """
        c = self.channels
        out: list[list[tuple[float, float]]] = [[] for _ in range(c)]
        lo, hi = self._fb_lo, self._fb_hi
        seg = p[:, lo:hi]
        mean = seg.mean(axis=1, keepdims=True)
        papr = 10 ** (FEEDBACK_PAPR_DB / 10)
        cand = (seg > p[:, lo - 1 : hi - 1]) & (seg >= p[:, lo + 1 : hi + 1])
        cand &= (seg >= papr * mean) & (mean > 0) & self._fb_allowed
        ch, k = np.nonzero(cand)
        if not len(k):
            return out
        k = k + lo
        pk = p[ch, k]
        pnpr = 10 ** (FEEDBACK_PNPR_DB / 10)
        left = p[ch, k - 3] + p[ch, k - 4] + p[ch, k - 5] + p[ch, k - 6]
        right = p[ch, k + 3] + p[ch, k + 4] + p[ch, k + 5] + p[ch, k + 6]
        ok = (4 * pk >= pnpr * left) & (4 * pk >= pnpr * right)
        power = p[ch, k - 2] + p[ch, k - 1] + pk + p[ch, k + 1] + p[ch, k + 2]
        ok &= power >= 10 ** (FEEDBACK_MIN_DBFS / 10)
        ch, k, pk, power = ch[ok], k[ok], pk[ok], power[ok]
        if not len(k):
            return out
        nb = p.shape[1]
        k2 = np.where(2 * k + 1 < nb, 2 * k, 1)
        second = np.maximum(np.maximum(p[ch, k2 - 1], p[ch, k2]), p[ch, k2 + 1])
        second[2 * k + 1 >= nb] = 0.0  # the 2nd harmonic is beyond Nyquist: nothing to test
        ok = pk >= 10 ** (FEEDBACK_PHPR_DB / 10) * second
        ch, k, power = ch[ok], k[ok], power[ok]
        if not len(k):
            return out
        # Parabolic interpolation of the log power: the Hann peak's true position to ~0.05 bin.
        la, lb, lc = (np.log(p[ch, k + d] + _EPS) for d in (-1, 0, 1))
        den = la - 2 * lb + lc
        delta = np.where(den < 0, 0.5 * (la - lc) / np.where(den < 0, den, -1.0), 0.0)
        refined = k + np.clip(delta, -0.5, 0.5)
        for i in np.argsort(-power).tolist():
            lines = out[ch[i]]
            if len(lines) < _FB_MAX_CANDIDATES:
                lines.append((float(refined[i]), float(power[i])))
        return out

    def _feedback(self, ch: int, candidates: list[tuple[float, float]]) -> None:
        b = self._blocks
        tracks = self._tracks[ch]
        used: set[int] = set()
        fall = 10 ** (-FEEDBACK_MAX_FALL_DB / 10)
        for k, power in candidates:
            best, best_d = None, _FB_BIN_TOL
            for i, t in enumerate(tracks):
                if i in used:
                    continue
                confirmed = t.last - t.first + 1 >= self._fb_persist
                gap_ok = b - t.last <= (1 + _FB_MAX_GAP if confirmed else 1)
                d = abs(k - t.anchor)
                if gap_ok and d <= best_d:
                    best, best_d = i, d
            if best is None:
                tracks.append(_Track(k, b, b, k, 1, power))
                used.add(len(tracks) - 1)
                continue
            t = tracks[best]
            used.add(best)
            confirmed = t.last - t.first + 1 >= self._fb_persist
            if not confirmed and power < t.power * fall:  # faded: start again from here
                tracks[best] = _Track(k, b, b, k, 1, power)
                continue
            t.last, t.bins, t.count = b, t.bins + k, t.count + 1
            t.power = max(t.power, power)
            if t.last - t.first + 1 >= self._fb_persist:
                t.anchor += 0.2 * (k - t.anchor)  # confirmed: follow a slow drift
        keep = []
        for i, t in enumerate(tracks):
            confirmed = t.last - t.first + 1 >= self._fb_persist
            if i in used or (confirmed and b - t.last <= _FB_MAX_GAP):
                keep.append(t)
            elif confirmed:
                self._w_feedback[ch].append(self._track_report(t))
        self._tracks[ch] = keep

    def _track_report(self, t: _Track) -> tuple[float, float, float]:
        hz = t.bins / t.count * self._df
        return (hz, (t.last - t.first + 1) * self.block_s, _db(t.power))

    def _feedback_summary(self, ch: int) -> tuple[tuple[float, float, float], ...]:
        """Confirmed howls of the window, the ongoing ones included, merged per frequency."""
        found = list(self._w_feedback[ch])
        found += [
            self._track_report(t)
            for t in self._tracks[ch]
            if t.last - t.first + 1 >= self._fb_persist
        ]
        merged: list[list[float]] = []
        for hz, s, db in sorted(found, key=lambda f: -f[1]):
            for m in merged:
                if abs(m[0] - hz) <= 1.5 * self._df:
                    m[1] += s
                    m[2] = max(m[2], db)
                    break
            else:
                merged.append([hz, s, db])
        merged.sort(key=lambda m: -m[2])
        # A howl that clips grows odd harmonics, which are lines too: they are the same howl.
        lines: list[list[float]] = []
        for m in merged:
            if not any(
                round(m[0] / h[0]) >= 2 and abs(m[0] - round(m[0] / h[0]) * h[0]) <= 2 * self._df
                for h in lines
            ):
                lines.append(m)
        out = [(m[0], m[1], m[2]) for m in lines[:_FB_MAX_REPORTED]]
        return tuple(sorted(out))

    # --- speech -------------------------------------------------------------------------------

    def _speech(self, x0: np.ndarray, xr0: np.ndarray, xr1: np.ndarray | None) -> None:
        fn = self._frame_n
        y = np.empty_like(x0)  # first difference: hum and rumble do not modulate
        y[0] = x0[0] - self._prev0
        np.subtract(x0[1:], x0[:-1], out=y[1:])
        self._prev0 = float(x0[-1])
        env = 10 * np.log10(np.einsum("ij,ij->i", y.reshape(-1, fn), y.reshape(-1, fn)) / fn + _EPS)
        self._env = np.concatenate([self._env[len(env) :], env])
        energy = self._band_energy(xr0)
        use = self._all_bands
        if xr1 is not None:
            # The probe's own tone, as the reference carries it: its bands are not people.
            self._ref_hold = np.maximum(self._band_energy(xr1), self._ref_hold * self._ref_decay)
            tone = (self._ref_hold > self._ref_live) & (self._ref_hold * self._ref_near >= energy)
            if tone.any():
                use = ~(tone | (self._harmonic_bands @ tone))
        floor = self._floor()
        score = -math.inf
        if np.isfinite(floor).all() and np.any(use):
            score = _band_score(energy[use], floor[use])
        self._scores = np.concatenate([self._scores[1:], [max(score, -100.0)]])
        # Syllables in the 20 ms envelope, or (when a howl or other tone dominates the
        # envelope) in the block scores, which are deaf to one tone.
        if score >= SPEECH_SCORE_DB and (_swing(self._env) or _swing(self._scores)):
            self._last_speech = self._blocks
        self._band_hist[self._band_pos] = energy
        self._band_pos = (self._band_pos + 1) % len(self._band_hist)

    def _band_energy(self, xr: np.ndarray) -> np.ndarray:
        """Mean-square energy of each speech band in a block (Blackman-Harris: a tone's skirt
        is 92 dB down 4 bins away, so a loud tone stays in its band)."""
        bh = _window_spectrum(xr, _BH4, self._sp_lo, self._sp_hi)
        pw = (bh.real**2 + bh.imag**2) * self._sp_norm
        return np.add.reduceat(pw, self._sp_offsets) + _EPS

    def _floor(self) -> np.ndarray:
        """Each speech band's quiet level (mean square); inf until the first block.

        Never below the band's share of SILENT_DBFS: over digital silence any
        sound, even a tone's far skirt, would otherwise stand out by 100 dB.
        """
        floor = self._band_hist.min(axis=0) * 10 ** (FLOOR_BIAS_DB / 10)
        return np.maximum(floor, self._floor_min)

    def _active_now(self) -> bool:
        if self._last_speech is None:
            return False
        since = (self._blocks - 1 - self._last_speech) * self.block_s
        return since <= self.hangover_s + 1e-9

    @property
    def active(self) -> bool:
        """People are talking (or did within ``hangover_s``): no test tone now."""
        with self._lock:
            return self._active_now()

    def speech_score(
        self, frame: np.ndarray, fs: int | None = None,
        exclude: Sequence[tuple[float, float]] | None = None,
    ) -> float:  # fmt: skip
        """How far (dB) the speech band of ``frame`` stands above the room's quiet level.

        Bands in ``exclude`` (Hz) are left out of both the frame's energy and
        the quiet level, widened by the window's main lobe: the active test
        passes the bands its own tone occupies, so that people who start to
        talk during a test are heard over the tone. ``frame`` is mono or
        (n, channels) (channel 0 is used), any length of at least 5 ms.
        Returns NaN before the watch has learnt the quiet level, -inf when
        everything is excluded. Compare with ``SPEECH_SCORE_DB``.
        """
        fs = self.fs if fs is None else fs
        x = _to_float(np.asarray(frame))
        if x.ndim == 2:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"frame must be mono or (n, channels), got shape {x.shape}")
        x = x[: len(x) // 2 * 2]
        if len(x) < 0.005 * fs:
            raise ValueError(f"frame too short: {len(x)} samples at {fs} Hz (need 5 ms)")
        with self._lock:
            floor = self._floor()
        if not np.isfinite(floor).all():
            return math.nan
        n = len(x)
        df = fs / n
        xr = np.fft.rfft(x)
        lo = max(1, math.floor(SPEECH_BAND_HZ[0] / df))
        hi = min(n // 2, math.ceil(SPEECH_BAND_HZ[1] / df) + 1)
        bh = _window_spectrum(xr, _BH4, lo, hi)
        pw = (bh.real**2 + bh.imag**2) * _power_norm(_BH4, n)
        f = np.arange(lo, hi) * df
        band = np.searchsorted(self._band_edges_hz, f, side="right") - 1
        inside = (band >= 0) & (band < SPEECH_BANDS)
        kept = inside.copy()
        guard = _BH_HALF_LOBE * df
        for f_lo, f_hi in exclude or ():
            kept &= ~((f >= f_lo - guard) & (f <= f_hi + guard))
        total = np.bincount(band[inside], minlength=SPEECH_BANDS)
        nkept = np.bincount(band[kept], minlength=SPEECH_BANDS)
        energy = np.bincount(band[kept], weights=pw[kept], minlength=SPEECH_BANDS)
        use = nkept > 0
        if not use.any():
            return -math.inf
        frac = nkept[use] / total[use]
        return _band_score(energy[use] + _EPS * frac, floor[use] * frac)

    # --- summary ------------------------------------------------------------------------------

    def _hum_segment(self, ch: int) -> tuple[float | None, bool]:
        """(level of the tonal hum lines, hum present) in the current segment's mean spectrum."""
        p = self._seg_hum[ch] / self._seg_blocks
        total, prominent = 0.0, False
        for k, refs in zip(self._hum_bins.tolist(), self._hum_refs, strict=True):
            ref = float(p[refs].mean())
            line = float(p[k])
            if line < p[k - 1] or line < p[k + 1]:  # not a line at this harmonic
                continue
            prom = _db(line) - _db(ref) if ref > 0 else math.inf
            if prom >= HUM_TONAL_DB:
                total += max(0.0, float(p[k - 1] + line + p[k + 1]) - 3 * ref)
            if prom >= HUM_PROMINENCE_DB:
                prominent = True
        if total <= 0:
            return None, False
        level = _db(total)
        return level, prominent and level >= HUM_MIN_DBFS

    def _hum(self, ch: int) -> tuple[float | None, bool]:
        """The window's hum: present in at least half of its seconds, at their median level."""
        results = list(self._w_hum[ch])
        if self._seg_blocks and self._seg_blocks * self.block_s >= HUM_MIN_S - 1e-9:
            results.append(self._hum_segment(ch))
        if not results:
            return None, False
        levels = [lvl for lvl, _ in results if lvl is not None]
        hum = 2 * sum(found for _, found in results) >= len(results)
        if 2 * len(levels) < len(results):
            return None, hum
        return float(np.median(levels)), hum

    def _noise_floor(self, ch: int) -> float:
        hist = self._w_hist[ch]
        n = int(hist.sum())
        if not n:
            return -math.inf
        i = int(np.searchsorted(np.cumsum(hist), math.ceil(n * NOISE_PERCENTILE / 100)))
        if i == 0:
            return -math.inf  # at or below -150 dBFS: digital silence
        return _HIST_LO_DB + (i + 0.5) * _HIST_STEP_DB

    def summary(self, reset: bool = True) -> WatchSummary:
        """What the window (since the last reset) looked like; starts a new window if ``reset``."""
        with self._lock:
            chans = []
            n = self._w_blocks * self._n
            for ch in range(self.channels):
                clip, zero = self._clips[ch], self._zeros[ch]
                clip.flush()
                silent = self._w_frame_max[ch] < 10 ** (SILENT_DBFS / 10)
                hum_db, hum = (None, False) if silent else self._hum(ch)
                chans.append(
                    ChannelSummary(
                        rms_dbfs=_db(self._w_sumsq[ch] / n) if n else -math.inf,
                        peak_dbfs=_db(float(self._w_peak[ch]) ** 2),
                        noise_floor_dbfs=self._noise_floor(ch),
                        clip_events=clip.events - self._w_clip[ch][0],
                        clipped_samples=clip.samples - self._w_clip[ch][1],
                        dropouts=zero.count - self._w_zero[ch][0],
                        dropout_ms=(zero.samples - self._w_zero[ch][1]) / self.fs * 1000,
                        hum_dbfs=hum_db,
                        hum=hum,
                        feedback=() if silent else self._feedback_summary(ch),
                        silent=bool(silent),
                    )
                )
            out = WatchSummary(
                seconds=self._w_blocks * self.block_s,
                channels=tuple(chans),
                speech_s=self._w_active_blocks * self.block_s,
                overruns=self._overruns,
            )
            if reset:
                self._reset_window()
            return out


def summary_of(*captures: np.ndarray, fs: int, mains_hz: float = 50.0) -> WatchSummary:
    """The watch's summary over captures heard one after the other (frames x channels)."""
    channels = captures[0].shape[1] if captures[0].ndim == 2 else 1
    watch = PassiveWatch(fs, channels, mains_hz=mains_hz)
    for capture in captures:
        watch.feed(capture)
    return watch.summary()
