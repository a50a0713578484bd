"""Detection figures of the audio probe on the room model: faults caught, false alarms.

Not a test (tests/unit/test_audio_detection.py asserts two seeds per fault):
this counts, over many seeds, how often each fault of the room model
(``roomprobe.audio.modelled.FAULT_CASES``) is found on the right component
with the right reason, how often on another one, and how often a clean room
(random start offsets, clock drift up to ±150 ppm, talkers silent) raises
anything at all. The reference is the healthy room measured once, as at
commissioning.

Run from the repository root:
    .venv/bin/python bench/audio_detection.py [--seeds 10] [--clean 50]
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace

from roomprobe.audio import active
from roomprobe.audio.diagnosis import diagnose
from roomprobe.audio.modelled import FAULT_CASES, measure_room
from roomprobe.audio.reference import Reference
from roomprobe.audio.room import Room
from roomprobe.config import AudioConfig, Thresholds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="runs per fault")
    ap.add_argument("--clean", type=int, default=50, help="runs of the clean room")
    ap.add_argument("--sweep-s", type=float, default=AudioConfig().sweep_s)
    args = ap.parse_args()
    cfg = AudioConfig(sweep_s=args.sweep_s)
    sweep = active.make_sweep(cfg)
    played = active.stimulus(sweep, cfg.pre_silence_s, cfg.tail_s)
    t = Thresholds()
    a, _ = measure_room(Room(), sweep, played, 0)
    ref = Reference.from_analysis(a, "2026-11-29T00:00:00.000Z")
    rng = random.Random(7)

    print(f"{cfg.sweep_s:g} s sweep at {cfg.level_dbfs:g} dBFS; reference: the healthy room\n")
    print(f"{'fault':38s} {'runs':>4s} {'caught':>6s} {'other':>5s} {'missed':>6s}")
    total = caught_all = 0
    for case in FAULT_CASES:
        caught = other = missed = 0
        for seed in range(1, args.seeds + 1):
            a, watch = measure_room(case.room, sweep, played, 1000 * seed,
                                    start_offset_s=0.1 + rng.random())  # fmt: skip
            f = diagnose(a, t, reference=ref, watch=watch)
            got = f.by_component()[case.component]
            if got.reason == case.reason:
                caught += 1
            elif f.overall.status in ("degraded", "fail"):
                other += 1
            else:
                missed += 1
        total += args.seeds
        caught_all += caught
        print(f"{case.name:38s} {args.seeds:4d} {caught:6d} {other:5d} {missed:6d}")
    print(f"{'all faults':38s} {total:4d} {caught_all:6d}")

    alarms: dict[str, int] = {}
    for seed in range(1, args.clean + 1):
        room = replace(Room(), drift_ppm=rng.uniform(-150, 150))
        a, watch = measure_room(room, sweep, played, 5000 + seed,
                                start_offset_s=0.1 + 2 * rng.random())  # fmt: skip
        f = diagnose(a, t, reference=ref, watch=watch)
        for v in f.components:
            if v.status in ("degraded", "fail"):
                alarms[v.reason] = alarms.get(v.reason, 0) + 1
    print(f"\nclean room, {args.clean} runs (drift ±150 ppm, random start): "
          f"{sum(alarms.values())} false alarms {alarms or ''}")  # fmt: skip


if __name__ == "__main__":
    main()
