"""``roomprobe audio ...``: analyse a recording, test the room now, commission the reference.

For district IT at the box (keyboard and screen, or SSH) and for anyone with
a WAV file. Output is Vietnamese and English, one verdict per component, and
with ``--json`` the same metrics the probe publishes. Mistakes (a missing or
unreadable file, a WAV that holds no sweep, a damaged reference) print one
sentence and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config
from .contract import utc_iso
from .meetings import Quiet
from .tomlconfig import ConfigError, report

if TYPE_CHECKING:  # numpy loads only when an audio command runs, not with every roomprobe command
    import numpy as np

EX_USAGE = 2
EX_DATAERR = 65  # the input file is not what was expected
EX_NOINPUT = 66
EX_UNAVAILABLE = 69  # the audio interface cannot be used
EX_CANTCREAT = 73
EX_CONFIG = 78


def _fail(msg_vi: str, msg_en: str, code: int) -> int:
    print(f"roomprobe: {msg_vi} / {msg_en}", file=sys.stderr)
    return code


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    """(rate, float frames x channels in [-1, 1]) from a PCM or float WAV file.

    scipy reads 8-, 16-, 24- and 32-bit PCM and 32/64-bit float; integer
    samples are scaled by their full scale.
    """
    import numpy as np
    from scipy.io import wavfile

    rate, data = wavfile.read(path)
    if data.dtype == np.uint8:
        x = (data.astype(np.float64) - 128) / 128
    elif np.issubdtype(data.dtype, np.integer):
        x = data.astype(np.float64) / float(-np.iinfo(data.dtype).min)
    else:
        x = data.astype(np.float64)
    if x.ndim == 1:
        x = x[:, None]
    return int(rate), x


def write_wav(path: Path, rate: int, frames: np.ndarray) -> None:
    """16-bit PCM, scaled as the interface's samples are (device.to_pcm)."""
    import numpy as np
    from scipy.io import wavfile

    from .audio.device import to_pcm

    wavfile.write(path, rate, np.frombuffer(to_pcm(frames), dtype="<i2").reshape(frames.shape))


def sweep_from_signal(x: np.ndarray, fs: int):
    """Recognise an exponential sweep in a stimulus file and recover its parameters.

    The instantaneous frequency of an exponential sweep is ``f1 e^(t/L)``, so
    its logarithm is a straight line in time: fitted over the loud middle of
    the signal (the analytic signal's phase, differentiated), it gives ``f1``
    and ``L``; a poor fit means the file holds something else.
    """
    import numpy as np
    from scipy import signal

    from .audio.sweep import Sweep

    env = np.abs(x)
    loud = np.flatnonzero(env > 0.01 * env.max()) if env.max() > 0 else np.array([])
    if len(loud) < fs // 10:
        raise ValueError("the stimulus is silent or shorter than 0.1 s")
    x = x[loud[0] : loud[-1] + 1]
    phase = np.unwrap(np.angle(signal.hilbert(x)))
    freq = np.diff(phase) * fs / (2 * np.pi)
    n = len(freq)
    mid = slice(n // 10, n - n // 10)
    t = np.arange(n)[mid] / fs
    good = freq[mid] > 0
    if good.sum() < 100:
        raise ValueError("the stimulus is not an exponential sine sweep")
    slope, intercept = np.polyfit(t[good], np.log(freq[mid][good]), 1)
    resid = np.log(freq[mid][good]) - (slope * t[good] + intercept)
    if slope <= 0 or float(np.median(np.abs(resid))) > 0.05:
        raise ValueError("the stimulus is not an exponential sine sweep")
    rate_l = 1 / slope
    f1 = math.exp(intercept)
    f2 = min(f1 * math.exp(len(x) / fs / rate_l), fs / 2)
    level = 20 * math.log10(float(np.max(np.abs(x))))
    return Sweep(fs, f1, f2, rate_l, x, level)


def _print_findings(metrics: dict[str, Any], findings, lang_both: bool = True) -> None:
    def fmt(v: Any, unit: str) -> str:
        return "—" if v is None else f"{v:g} {unit}".rstrip()

    m = metrics
    print(f"mức tín hiệu / level: {fmt(m.get('level_dbfs'), 'dBFS')}, "
          f"nền nhiễu / noise floor: {fmt(m.get('noise_floor_dbfs'), 'dBFS')}, "
          f"SNR {fmt(m.get('snr_db'), 'dB')}")  # fmt: skip
    for name, label in (
        ("electrical", "đường điện / electrical"),
        ("acoustic", "qua loa-micro / acoustic"),
    ):
        p = m.get(name)
        if p:
            print(f"{label}: trễ / latency {p['latency_ms']:g} ms, độ lợi / gain "
                  f"{p['gain_db']:g} dB, méo / THD {fmt(p['thd_pct'], '%')}")  # fmt: skip
    room = m.get("room")
    if room:
        figures = [
            f"EDT {fmt(room.get('edt_s'), 's')}",
            f"T20 {fmt(room.get('t20_s'), 's')}",
            f"T30 {fmt(room.get('t30_s'), 's')}",
            f"C50 {fmt(room.get('c50_db'), 'dB')}",
            f"STI {fmt(room.get('sti'), '')}",
        ]
        print("phòng / room: " + ", ".join(figures))
    if m.get("drift_ppm") is not None:
        print(f"lệch xung nhịp / clock drift: {m['drift_ppm']:g} ppm")
    print()
    for v in findings.components:
        mark = {"ok": "OK ", "degraded": "!  ", "fail": "XX ", "unknown": "?  "}[v.status]
        print(f"{mark}{v.check:18s} {v.message['vi']}")
        print(f"   {'':18s} {v.message['en']}")
    o = findings.overall
    print(f"\nKết luận / verdict: {o.status} — {o.message['vi']} / {o.message['en']}")


def _load_reference(path: str | None, cfg: config.ProbeConfig | None):
    from .audio import reference as ref_mod
    from .audio.probe import REFERENCE_FILE

    if path is None and cfg is not None:
        p = Path(cfg.paths.state_dir) / REFERENCE_FILE
        return ref_mod.load(p)
    return None if path is None else ref_mod.load(Path(path))


def _config_or_default(path: str) -> config.ProbeConfig | None:
    """The config if it exists and loads; None when there is no file (analysis needs none)."""
    if not Path(path).exists():
        return None
    return config.load(path)


def cmd_audio_analyze(args: argparse.Namespace) -> int:
    from .audio import active, analysis
    from .audio.probe import report
    from .audio.watch import summary_of

    try:
        cfg = _config_or_default(args.config)
    except ConfigError as exc:
        print(report(exc, "roomprobe"), file=sys.stderr)
        return EX_CONFIG
    audio_cfg = cfg.audio if cfg else config.AudioConfig()
    thresholds = cfg.thresholds if cfg else config.Thresholds()
    try:
        rate, capture = read_wav(Path(args.capture))
    except FileNotFoundError:
        return _fail(f"không có tệp {args.capture}", f"no such file {args.capture}", EX_NOINPUT)
    except (ValueError, OSError) as exc:
        return _fail(f"không đọc được {args.capture}", f"cannot read {args.capture}: {exc}",
                     EX_DATAERR)  # fmt: skip
    if capture.shape[1] > 2:
        capture = capture[:, :2]
    try:
        if args.stimulus:
            srate, stim = read_wav(Path(args.stimulus))
            if srate != rate:
                return _fail("tần số lấy mẫu khác nhau",
                             f"the stimulus is at {srate} Hz, the capture at {rate} Hz",
                             EX_DATAERR)  # fmt: skip
            sweep = sweep_from_signal(stim[:, 0], rate)
        else:
            sweep = active.make_sweep(audio_cfg.model_copy(update={"rate": rate}))
    except FileNotFoundError as exc:
        return _fail("không có tệp", f"no such file: {exc.filename}", EX_NOINPUT)
    except (ValueError, OSError) as exc:
        return _fail(f"không đọc được {args.stimulus}", f"cannot use {args.stimulus}: {exc}",
                     EX_DATAERR)  # fmt: skip
    try:
        reference = _load_reference(args.reference, cfg)
    except ValueError as exc:
        if args.reference:  # asked for by name: a damaged file is the user's to fix
            return _fail("tệp tham chiếu hỏng", f"bad reference: {exc}", EX_DATAERR)
        print(f"roomprobe: bỏ qua tệp tham chiếu / reference ignored: {exc}", file=sys.stderr)
        reference = None
    try:
        result = analysis.analyse(sweep, capture)
    except ValueError as exc:
        return _fail("không phân tích được", f"cannot analyse: {exc}", EX_DATAERR)
    summary = summary_of(capture, fs=rate, mains_hz=audio_cfg.mains_hz)
    metrics, findings = report(result, summary, thresholds, reference)
    return _report(metrics, findings, args.json)


def _report(metrics: dict[str, Any], findings, as_json: bool) -> int:
    """Print the result (text in both languages, or JSON); the exit status says if all is well."""
    if as_json:
        out = {"verdict": findings.overall.to_dict(), "components": findings.to_list(),
               "metrics": metrics}  # fmt: skip
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print_findings(metrics, findings)
    return 0 if findings.overall.status in ("ok", "unknown") else 1


def _run_on_device(cfg: config.ProbeConfig, save: Path | None):
    """One active test on the configured interface, refusing while people talk.

    Returns (outcome, device error, what the watch heard: a summary, or "busy").
    """
    import time

    from .audio.active import run_active_test
    from .audio.device import CaptureLoop, DeviceSettings
    from .audio.watch import PassiveWatch

    a = cfg.audio
    loop = CaptureLoop(DeviceSettings.of(a), retry_s=0.5)
    watch = PassiveWatch(a.rate, 2, mains_hz=a.mains_hz)
    loop.add_listener(lambda frames, index: watch.feed(frames))
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while not loop.running.is_set() and time.monotonic() < deadline:
            if loop.error is not None:
                return None, loop.error, None
            time.sleep(0.05)
        time.sleep(3.0)  # listen first: the room's quiet level, and nobody talking
        if watch.active:
            return None, None, "busy"
        outcome = run_active_test(
            loop, a, lambda block, exclude: watch.speech_score(block, exclude=exclude)
        )
        if save is not None and outcome.capture is not None:
            from .audio.active import make_sweep, stimulus

            save.mkdir(parents=True, exist_ok=True)
            write_wav(save / "capture.wav", a.rate, outcome.capture)
            played = stimulus(make_sweep(a), a.pre_silence_s, a.tail_s)
            write_wav(save / "stimulus.wav", a.rate, played[:, :1])
        return outcome, outcome.error, watch.summary()
    finally:
        loop.stop()


def why_not_now(cfg: config.ProbeConfig) -> Quiet | None:
    """Rule 1 with the daemon's persisted state: meeting mode, the schedule, the clock."""
    from datetime import UTC, datetime

    from . import host, outbox
    from .meetings import Schedule, why_no_active_tests

    path = Path(cfg.paths.state_dir) / outbox.FILE_NAME
    try:
        mode = outbox.read_state(path, "meeting_mode") == "on"
        schedule = Schedule.loads(cfg.site, outbox.read_state(path, "schedule"))
    except sqlite3.Error as exc:
        return Quiet("state_unreadable", (("problem", str(exc)),))
    return why_no_active_tests(
        mode, schedule, datetime.now(UTC), cfg.daemon.meeting_guard_s,
        host.clock_synced() or cfg.daemon.trust_unsynced_clock,
    )  # fmt: skip


def _device_test(args: argparse.Namespace):
    try:
        cfg = config.load(args.config)
    except ConfigError as exc:
        print(report(exc, "roomprobe"), file=sys.stderr)
        return None, EX_CONFIG
    why = why_not_now(cfg)
    if why is not None:
        words = why.text()
        return None, _fail(f"không phát tín hiệu thử lúc này: {words['vi']}",
                           f"no test tone now: {words['en']}", EX_UNAVAILABLE)  # fmt: skip
    outcome, error, heard = _run_on_device(cfg, Path(args.save) if args.save else None)
    if heard == "busy":
        return None, _fail(
            "trong phòng đang có người nói, không phát tín hiệu thử",
            "people are talking in the room: no test tone now", EX_UNAVAILABLE,
        )  # fmt: skip
    if error is not None:
        return None, _fail(f"không dùng được card âm thanh ({error.reason})",
                           f"the audio interface cannot be used: {error.detail}",
                           EX_UNAVAILABLE)  # fmt: skip
    if outcome.status == "aborted":
        return None, _fail("đã dừng vì có người nói", "stopped: people started talking",
                           EX_UNAVAILABLE)  # fmt: skip
    return (cfg, outcome, heard), 0


def cmd_audio_test(args: argparse.Namespace) -> int:
    from .audio.probe import judge

    got, code = _device_test(args)
    if got is None:
        return code
    cfg, outcome, heard = got
    try:
        reference = _load_reference(None, cfg)
    except ValueError as exc:
        print(f"roomprobe: bỏ qua tệp tham chiếu / reference ignored: {exc}", file=sys.stderr)
        reference = None
    metrics, findings = judge(outcome, cfg.audio, cfg.thresholds, reference, heard)
    return _report(metrics, findings, args.json)


def cmd_audio_commission(args: argparse.Namespace) -> int:
    """Measure the room as it is now and keep it as the reference (the room must sound right)."""
    from .audio.probe import REFERENCE_FILE, judge
    from .audio.reference import Reference

    got, code = _device_test(args)
    if got is None:
        return code
    cfg, outcome, heard = got
    metrics, findings = judge(outcome, cfg.audio, cfg.thresholds, None, heard)
    bad = [v for v in findings.components if v.status in ("degraded", "fail")]
    if bad and not args.force:
        _print_findings(metrics, findings)
        return _fail(
            "phòng đang có lỗi, chưa lưu tham chiếu (sửa lỗi trước, hoặc dùng --force)",
            "the room has faults; no reference saved (fix them first, or use --force)", 1,
        )  # fmt: skip
    try:
        if outcome.analysis is None:
            raise ValueError("the recording could not be analysed")
        ref = Reference.from_analysis(outcome.analysis, utc_iso())
    except ValueError as exc:
        return _fail("không lưu được tham chiếu", f"no reference saved: {exc}", 1)
    path = Path(cfg.paths.state_dir) / REFERENCE_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ref.save(path)
    except OSError as exc:
        return _fail(f"không lưu được {path}", f"cannot save {path}: {exc}", EX_CANTCREAT)
    print(f"đã lưu tham chiếu / reference saved: {path}")
    print(f"  trễ / latency {ref.electrical_latency_ms:.2f} ms, "
          f"loa / speakers {len(ref.arrivals_ms)} "
          f"({', '.join(f'{ref.distance_m(ms):.1f} m' for ms in ref.arrivals_ms)})")  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction, with_config) -> None:
    audio = sub.add_parser("audio", help="audio tests by hand").add_subparsers(
        dest="audio_command", required=True, metavar="COMMAND"
    )
    p = audio.add_parser("analyze", help="analyse a recording of the test sweep (WAV)")
    with_config(p)
    p.add_argument("capture", help="WAV file: mono (the mixer's return) or stereo (+ reference)")
    p.add_argument("--stimulus", help="WAV file of the sweep that was played (default: ours)")
    p.add_argument("--reference", help="the room's commissioned reference (JSON)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_audio_analyze)

    p = audio.add_parser("test", help="run the active test on the configured interface now")
    with_config(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--save", metavar="DIR",
        help="also keep the recording (DIR/capture.wav) and the sweep played (DIR/stimulus.wav), "
        "for 'audio analyze' later or elsewhere",
    )  # fmt: skip
    p.set_defaults(func=cmd_audio_test)

    p = audio.add_parser("commission", help="measure the room and keep it as its reference")
    with_config(p)
    p.add_argument("--force", action="store_true", help="save even if faults are found")
    p.add_argument("--save", metavar="DIR", help="also keep the recording as DIR/capture.wav")
    p.set_defaults(func=cmd_audio_commission)
