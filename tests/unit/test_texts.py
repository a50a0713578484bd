"""The text catalogue: every reason code the probe uses has Vietnamese and English texts."""

from __future__ import annotations

import re
import string
import uuid
from pathlib import Path

import pytest

import roomprobe
from roomprobe import config, texts
from roomprobe.contract import Stamp, validate
from roomprobe.texts import TEXTS, text
from roomprobe.tomlconfig import ConfigError

SOURCE = Path(roomprobe.__file__).parent
CODE_RE = re.compile(
    r"""["']((?:net|audio|monitor|system|event|cmd|readiness|quiet)\.[a-z][a-z0-9_]*)["']"""
)
UNKNOWN_RE = re.compile(r"""\bunknown\(\s*["']([a-z]+)["']\s*\)""")

# The values templates may take, as the callers pass them.
DOCUMENTED_VALUES = {
    "value": 47.83,
    "limit": 50.0,
    "problems": "mqtt.port = 70000: Input should be less than or equal to 65535",
    "problem": "on: true|false",
    "used": 1990.0,
    "band": 2500.0,
    "count": 120,
    "mb": 64.0,
    "not_kept": 3,
    "meeting": "Giao ban 1/12",  # a title: any text (ASCII here, for the check below)
    # A refusal's reason: a {vi, en} text, each language's sentence takes its own.
    "why": {"vi": "đang bật chế độ đang họp", "en": "meeting mode is on"},
    # set-config (remote_config): a key, and what changed ({vi, en}: the arrow differs)
    "key": "thresholds.download_mbps",
    "changes": {"vi": "rtt_ms: 100 → 80", "en": "rtt_ms: 100 -> 80"},
}
# Codes whose callers pass values (verdicts.py, service.py), and what they pass.
EXPECTED_FIELDS = {
    "net.download_low": {"value", "limit"},
    "net.upload_low": {"value", "limit"},
    "net.latency_high": {"value", "limit"},
    "net.jitter_high": {"value", "limit"},
    "net.loss_high": {"value", "limit"},
    "net.lan_fault": {"value"},
    "audio.level_low": {"value", "limit"},
    "audio.distortion": {"value", "limit"},
    "audio.noise_high": {"value", "limit"},
    "system.outbox_rejected": {"value"},
    "system.outbox_full": {"value"},
    "event.outbox_dropped": {"count", "mb"},
    "event.disk_full_cleared": {"not_kept"},
    "event.config_rejected": {"problems"},
    "cmd.bad_args": {"problem"},
    "cmd.not_now": {"why"},
    "event.button_refused": {"why"},
    "quiet.meeting_scheduled": {"meeting"},
    "quiet.state_unreadable": {"problem"},
    "cmd.bad_command": {"problem"},
    "cmd.config_applied": {"changes"},
    "event.config_applied": {"changes"},
    "cmd.config_forbidden": {"problems"},
    "cmd.config_rejected": {"problems"},
    "cmd.config_not_saved": {"problem"},
    "cmd.config_cuts_off": {"key"},
    "cmd.config_box_only": {"key"},
    "net.probe_interface_slow": {"value", "limit"},
    "net.probe_cpu_limited": {"value"},
    "net.test_failed": {"problem"},
    "net.mos_low": {"value", "limit"},
    "event.test_skipped_budget": {"used", "limit"},
    "audio.device_missing": {"problem"},
    "audio.device_busy": {"problem"},
    "audio.rate_unsupported": {"problem"},
    "audio.device_error": {"problem"},
    "audio.overruns": {"value"},
    "audio.dropouts": {"value"},
    "audio.hum": {"value"},
    "audio.mixer_gain_changed": {"value"},
    "audio.latency_changed": {"value"},
    "audio.mixer_distortion": {"value", "limit"},
    "audio.clipping": set(),
    "audio.feedback": {"value"},
    "audio.speaker_missing": {"value"},
    "audio.amp_gain_changed": {"value"},
    "audio.response_changed": {"value", "band"},
}


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def codes_used_in_source() -> dict[str, list[str]]:
    """Every reason code literal in the probe's source, with where it appears."""
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name == "texts.py":
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.relative_to(SOURCE)}:{lineno}"
            for code in CODE_RE.findall(line):
                found.setdefault(code, []).append(where)
            for check in UNKNOWN_RE.findall(line):  # verdicts.unknown("net") -> net.unknown
                found.setdefault(f"{check}.unknown", []).append(where)
    return found


USED = codes_used_in_source()


def test_the_source_scan_finds_the_codes_it_should() -> None:
    # guards the scan itself: if these vanish the regex (or the source layout) broke
    for code in ("net.download_low", "net.lan_fault", "audio.no_signal", "net.unknown",
                 "system.ok", "event.started", "cmd.accepted"):  # fmt: skip
        assert code in USED, code
    assert len(USED) >= 20


@pytest.mark.parametrize("code", sorted(USED))
def test_every_code_used_in_the_source_has_a_text(code: str) -> None:
    assert code in TEXTS, f"{code} used at {', '.join(USED[code])} has no entry in texts.TEXTS"


@pytest.mark.parametrize("code", sorted(TEXTS))
def test_every_entry_formats_with_the_documented_values(code: str) -> None:
    vi, en = TEXTS[code]
    assert fields(vi) == fields(en), "both languages must take the same values"
    assert fields(vi) <= set(DOCUMENTED_VALUES), fields(vi) - set(DOCUMENTED_VALUES)
    if code in EXPECTED_FIELDS:
        assert fields(vi) == EXPECTED_FIELDS[code]
    else:
        assert fields(vi) == set(), "a code nobody passes values to must not need any"
    out = text(code, **DOCUMENTED_VALUES)
    assert set(out) == {"vi", "en"}
    for lang in ("vi", "en"):
        assert out[lang].strip() == out[lang] and out[lang]
        assert "{" not in out[lang] and "}" not in out[lang]
        assert 1 <= len(out[lang]) <= 500  # the contract's text limit


@pytest.mark.parametrize("code", sorted(c for c, f in EXPECTED_FIELDS.items() if "value" in f))
def test_numbers_also_format_as_ints(code: str) -> None:
    out = text(code, value=3, limit=50, band=1000)
    assert "3" in out["vi"] and "3" in out["en"]


@pytest.mark.parametrize("code", sorted(TEXTS))
def test_vietnamese_and_english_differ(code: str) -> None:
    out = text(code, **DOCUMENTED_VALUES)
    assert out["vi"] != out["en"]
    assert not out["vi"].isascii(), "the Vietnamese text has no Vietnamese letters"
    assert out["en"].isascii()


def test_values_appear_in_both_languages() -> None:
    out = text("net.download_low", value=47.83, limit=50)
    assert "47.8 Mbps" in out["vi"] and "47.8 Mbps" in out["en"]
    assert "50 Mbps" in out["vi"] and "50 Mbps" in out["en"]
    out = text("cmd.bad_args", problem="on: true|false")
    assert out["vi"].endswith("on: true|false") and out["en"].endswith("on: true|false")


def test_an_unknown_code_is_a_loud_error_naming_it() -> None:
    with pytest.raises(KeyError, match=r"'net\.mystery'.*roomprobe\.texts"):
        text("net.mystery")


def test_a_missing_value_is_a_loud_error() -> None:
    with pytest.raises(KeyError):
        text("net.download_low", value=1.0)


def test_catalogue_keys_are_valid_reason_codes() -> None:
    pattern = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")  # common.json#/$defs/verdict/reason
    for code in TEXTS:
        assert pattern.match(code), code
        assert texts.TEXTS[code][0] and texts.TEXTS[code][1]


def test_config_rejected_event_fits_the_contract_even_with_many_problems() -> None:
    """The daemon reports a rejected config as an event (service.run); the joined problem
    list can exceed the contract's 500 characters, and then the event cannot be stored
    and the daemon stops on start-up instead of running on the last good config."""
    bad = (
        'site = "Dak Ang"\nname = 5\n'
        '[mqtt]\nhost = ""\nport = 70000\nprot = 1\nkeepalive_s = 1\n'
        '[net]\nbackend = "real"\ninterval_s = 0\n'
        "[thresholds]\nloss_pct = 150\nrtt = 100\n"
    )
    with pytest.raises(ConfigError) as exc:
        config.parse(bad)
    problems = "; ".join(exc.value.problems)
    stamp = Stamp("dak-ang", str(uuid.uuid4()), lambda: True)
    payload = stamp.envelope(
        "roomprobe.event",
        1,
        event="config_rejected",
        message=text("event.config_rejected", problems=problems),
        details={"problems": problems},
    )
    validate(payload, "roomprobe.event")
