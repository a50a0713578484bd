"""What a person reads of a summary: the room's one line, the page's cells, the console.

Every text comes from words.py in one language at a time (0 Vietnamese, 1
English); times go through the caller's ``when``, which turns a contract time
into the reader's local time, so this module knows no time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from roomprobe.contract import parse_utc

from .records import NOT_READY, UNKNOWN
from .words import ACTORS, LABELS, minutes, num, say


def overall(room: dict[str, Any], lang: int) -> str:
    """The room in one line: readiness before; the line, audio, silences during."""
    r = room["readiness"]
    words = say(f"ready.{r['state']}", lang)
    if r["state"] in (NOT_READY, UNKNOWN) and r["actors"]:
        words += " (" + ", ".join(ACTORS[a][lang] for a in r["actors"]) + ")"
    parts = [words]
    line = room["line"]
    if not line["windows"]:
        parts.append(say("line.none", lang))
    elif not line["bad"]:
        parts.append(say("line.fine", lang))
    else:
        bad = say("line.bad", lang, bad=line["bad"], n=line["windows"])
        if line["fail"]:
            bad += " (" + say("line.failing", lang, n=line["fail"]) + ")"
        parts.append(bad)
    audio = room["audio"]
    if not audio["count"]:
        parts.append(say("audio.none", lang))
    else:
        parts.append(
            say("audio.one" if audio["count"] == 1 else "audio.many", lang, n=audio["count"])
        )
    if audio["other"]:
        parts.append(say("other.faults", lang, n=audio["other"]))
    cov = room["coverage"]
    if cov["silent_s"]:
        parts.append(say("silent", lang, m=minutes(cov["silent_s"])))
    if cov["offline_s"] - cov["silent_s"] >= cov["threshold_s"]:
        parts.append(say("offline", lang, m=minutes(cov["offline_s"] - cov["silent_s"])))
    return "; ".join(parts)


def describe(room: dict[str, Any], lang: int, when: Callable[[str], str]) -> dict[str, list[str]]:
    """The room's summary as lines per column (before, line, audio, gaps, events), in one
    language; ``when`` turns a contract time into the reader's local time."""
    key = "vi" if lang == 0 else "en"
    r = room["readiness"]
    before = [say(f"ready.{r['state']}", lang)]
    if r["at"]:
        before[0] += " · " + say("at", lang, time=when(r["at"]))
        before.append(r["message"][key])
        for part in ("network", "audio", "system"):
            v = r["parts"].get(part)
            if v and v["status"] != "ok":
                before.append(
                    say(
                        "part",
                        lang,
                        part=say(f"part.{part}", lang),
                        status=say(f"status.{v['status']}", lang)
                        if v["status"] in ("ok", "degraded", "fail", "unknown")
                        else v["status"],
                    )
                    + ": "
                    + v["message"][key]
                )
        if r["runs"] > 1:
            before.append(say("runs", lang, n=r["runs"]))
    line_ = room["line"]
    line = []
    if not line_["windows"]:
        line.append(say("line.none", lang))
    else:
        line.append(
            say(
                "windows",
                lang,
                n=line_["windows"],
                ok=line_["ok"],
                degraded=line_["degraded"],
                fail=line_["fail"],
                unknown=line_["unknown"],
            )
        )
        for name, spread in (
            ("rtt", line_["rtt_ms"]),
            ("jitter", line_["jitter_ms"]),
            ("loss", line_["loss_pct"]),
        ):
            if spread:
                digits = 2 if name == "loss" else 1
                line.append(
                    say(
                        name,
                        lang,
                        median=num(spread["median"], digits),
                        worst=num(spread["worst"], digits),
                    )
                )
        if line_["mos"]:
            line.append(
                say(
                    "mos",
                    lang,
                    lowest=num(line_["mos"]["lowest"], 2),
                    median=num(line_["mos"]["median"], 2),
                )
            )
        for reason in line_["reasons"][:3]:
            line.append(say("reason", lang, count=reason["count"], message=reason["message"][key]))
    audio_ = room["audio"]
    audio = []
    for f in audio_["faults"]:
        if f["before_start"]:
            words = say("fault.before", lang, time=when(f["at"]), message=f["message"][key])
        else:
            words = say("fault", lang, time=when(f["at"]), message=f["message"][key])
        if f["cleared_at"]:
            words += " · " + say("fault.cleared", lang, time=when(f["cleared_at"]))
        else:
            words += " · " + say("fault.standing", lang)
        audio.append(words)
    if not audio_["faults"]:
        audio.append(say("audio.none", lang))
    if line_["audio_rms_dbfs"]:
        audio.append(
            say(
                "level",
                lang,
                median=num(line_["audio_rms_dbfs"]["median"]),
                max=num(line_["audio_rms_dbfs"]["max"]),
            )
        )
    if audio_["watch"]:
        w = audio_["watch"]
        audio.append(
            say(
                "watch",
                lang,
                clips=w["clip_events"],
                dropouts=w["dropouts"],
                hum=w["hum_windows"],
                feedback=num(w["feedback_s"]),
                speech=num(w["speech_s"], 0),
            )
        )
    cov = room["coverage"]
    gaps = []
    # A silent probe is not heard either: list only the offline spans a silence does not explain.
    slack = timedelta(seconds=cov["threshold_s"])
    silences = [(parse_utc(g["from"]) - slack, parse_utc(g["to"]) + slack) for g in cov["silent"]]
    offline = [g for g in cov["offline"]
               if not any(a <= parse_utc(g["from"]) and parse_utc(g["to"]) <= b
                          for a, b in silences)]  # fmt: skip
    for title, spans in (("silent.title", cov["silent"]), ("offline.title", offline)):
        for g in spans:
            gaps.append(
                say(title, lang)
                + ": "
                + say("span", lang, start=when(g["from"]), end=when(g["to"]), m=minutes(g["s"]))
            )
    if line_["late"]:
        gaps.append(say("late", lang, n=line_["late"]))
    if cov["missing"]:
        gaps.append(say("missing", lang, n=cov["missing"]))
    if room["skipped"]:
        gaps.append(say("unreadable", lang, n=room["skipped"]))
    if not gaps:
        gaps.append(say("all_heard", lang))
    events = []
    for m in room["events"]["meeting_mode"]:
        events.append(say("mode.on" if m["on"] else "mode.off", lang, time=when(m["at"])))
    for s in room["events"]["test_skipped"]:
        events.append(say("skipped", lang, time=when(s["at"]), message=s["message"][key]))
    return {"before": before, "line": line, "audio": audio, "gaps": gaps, "events": events}


def as_text(summary: dict[str, Any], when: Callable[[str], str]) -> str:
    """The whole summary for the console: Vietnamese, then English."""
    blocks = []
    m = summary["meeting"]
    for lang, key in ((0, "vi"), (1, "en")):
        labels = {k: v[lang] for k, v in LABELS.items()}
        lines = [
            f"{labels['summary.title']}: {m['title']}",
            f"{when(m['start'])} – {when(m['end'])} ({m['id']})",
        ]
        note = labels[f"summary.state.{summary['state']}"].format(
            at=when(summary["computed_at"]) if summary.get("computed_at") else ""
        )
        lines.append(note)
        if not summary["rooms"]:
            lines.append(say("no_rooms", lang))
        for room in summary["rooms"]:
            lines.append("")
            lines.append(f"- {room['name']} ({room['site']}): {room['overall'][key]}")
            cells = describe(room, lang, when)
            for column in ("before", "line", "audio", "gaps", "events"):
                if not cells[column]:
                    continue
                heading = labels[f"summary.{column}"]
                lines.append(f"    {heading}:")
                lines.extend(f"      {line}" for line in cells[column])
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
