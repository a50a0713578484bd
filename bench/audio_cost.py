"""What the audio probe costs the Pi: the passive watch per second of audio, and one active test.

Not a test: it prints figures and ratios and asserts nothing.

* **Passive watch**: CPU seconds per second of 48 kHz stereo, fed in ALSA
  periods as the capture loop does (1024 frames), over a minute of a room
  model's capture (ambient noise, talkers, hum). The target is 1 % of one core
  here; the Pi 4 is about 3-5x slower per core, the Zero 2 W about 8x.
* **Active test analysis**: wall and CPU time of ``analyse`` on one capture
  of the configured sweep (6 s) through the room model, and of the
  diagnosis; the same with the room's decay and STI left out, to show their
  share.
* **Peak memory**: ``tracemalloc``'s peak of numpy/scipy allocations during
  one analysis, and the process's maximum RSS (``ru_maxrss``).

Run from the repository root:
    .venv/bin/python bench/audio_cost.py [--seconds 60] [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

import numpy as np

from roomprobe.audio import active, analysis
from roomprobe.audio.diagnosis import diagnose
from roomprobe.audio.room import Room
from roomprobe.audio.watch import PassiveWatch
from roomprobe.config import AudioConfig, Thresholds


def cpu() -> float:
    return time.process_time()


def watch_cost(seconds: float, period: int) -> tuple[float, float]:
    """(CPU s per audio s, realtime ratio) of the passive watch."""
    room = Room().with_faults(hum_dbfs=-60)
    audio = room.ambient(seconds, seed=1, talkers_from_s=seconds / 3)
    watch = PassiveWatch(48000, 2)
    watch.feed(audio[: 48000 * 6])  # learn the room first, as the daemon has
    t0 = cpu()
    for i in range(48000 * 6, len(audio), period):
        watch.feed(audio[i : i + period])
    spent = cpu() - t0
    done = (len(audio) - 48000 * 6) / 48000
    watch.summary()
    return spent / done, done / spent


def analysis_cost(cfg: AudioConfig, repeat: int, drift_ppm: float = 0.0) -> dict[str, float]:
    sweep = active.make_sweep(cfg)
    played = active.stimulus(sweep, cfg.pre_silence_s, cfg.tail_s)
    capture = Room(drift_ppm=drift_ppm).render(played, seed=2, start_offset_s=0.5)
    t = Thresholds()
    walls, cpus, walls_lean, diag = [], [], [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), cpu()
        a = analysis.analyse(sweep, capture)
        walls.append(time.perf_counter() - w0)
        cpus.append(cpu() - c0)
        w0 = time.perf_counter()
        diagnose(a, t)
        diag.append(time.perf_counter() - w0)
        w0 = time.perf_counter()
        analysis.analyse(sweep, capture, with_room=False)
        walls_lean.append(time.perf_counter() - w0)
    tracemalloc.start()
    analysis.analyse(sweep, capture)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "capture_s": len(capture) / sweep.fs,
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "wall_without_room_s": statistics.median(walls_lean),
        "diagnosis_s": statistics.median(diag),
        "peak_alloc_mb": peak / 1e6,
        "capture_mb": capture.nbytes / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="audio fed to the watch")
    ap.add_argument("--repeat", type=int, default=5, help="analyses timed (median reported)")
    args = ap.parse_args()
    cfg = AudioConfig()
    print(f"numpy {np.__version__}; one process, this machine's core\n")
    per_s, realtime = watch_cost(args.seconds, cfg.period_frames)
    print("passive watch (48 kHz stereo, 1024-frame periods)")
    print(f"  CPU per second of audio:  {per_s * 1000:.2f} ms  = {per_s * 100:.2f} % of one core")
    print(f"  faster than real time:    {realtime:.0f}x")
    r = analysis_cost(cfg, args.repeat)
    print(f"\nactive test analysis ({cfg.sweep_s:g} s sweep, {r['capture_s']:.1f} s capture)")
    print(f"  analyse():                {r['wall_s']:.3f} s wall, {r['cpu_s']:.3f} s CPU")
    print(f"  without decay/STI:        {r['wall_without_room_s']:.3f} s wall")
    print(f"  diagnose():               {r['diagnosis_s'] * 1000:.2f} ms")
    print(f"  peak numpy allocations:   {r['peak_alloc_mb']:.0f} MB "
          f"(the capture itself: {r['capture_mb']:.1f} MB)")  # fmt: skip
    d = analysis_cost(cfg, args.repeat, drift_ppm=60.0)
    print("\nthe same with 60 ppm of clock drift (resampled, timed twice)")
    print(f"  analyse():                {d['wall_s']:.3f} s wall, {d['cpu_s']:.3f} s CPU "
          f"({d['cpu_s'] / r['cpu_s']:.2f}x)")  # fmt: skip
    print(f"  peak numpy allocations:   {d['peak_alloc_mb']:.0f} MB")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  process max RSS:          {rss:.0f} MB")


if __name__ == "__main__":
    main()
