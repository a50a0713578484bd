"""The alert rules, texts, retry plan and config checks, without a store or a network."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from roomhub import config, notify
from roomhub.alerts import (
    TEXTS,
    SiteState,
    compose,
    judge,
    plan,
    standing_faults,
)
from roomhub.schedule import Meeting
from roomprobe.contract import utc_iso
from roomprobe.tomlconfig import ConfigError

T0 = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # 07:30 in Asia/Ho_Chi_Minh
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def hub(**alerts: Any) -> config.HubConfig:
    return config.HubConfig.model_validate({"hub_id": "ngoc-hoi", "alerts": alerts})


def v(check: str, status: str, actor: str | None = None, reason: str = "x.y") -> dict[str, Any]:
    return {"check": check, "status": status, "reason": reason,
            "message": {"vi": f"{check} {status} (vi)", "en": f"{check} {status} (en)"},
            "actor": actor}  # fmt: skip


def status(**parts: dict[str, Any]) -> dict[str, Any]:
    verdicts = {"network": v("net", "ok"), "audio": v("audio", "ok"),
                "system": v("system", "ok")}  # fmt: skip
    return {"boot_id": "b", "verdicts": {**verdicts, **parts}}


def net(down: float, up: float, st: str = "ok", actor: str | None = None) -> dict[str, Any]:
    return {"ts": utc_iso(T0), "metrics": {"download_mbps": down, "upload_mbps": up},
            "verdict": v("net", st, actor)}  # fmt: skip


def site(name: str = "dak-ang", **fields: Any) -> SiteState:
    base: dict[str, Any] = {"seen": True, "online": True, "last_seen": T0, "status": status()}
    return SiteState(name, name, **{**base, **fields})


def keys(states: list[SiteState], now: datetime = T0, meetings: tuple = (), since=None, **cfg):
    found = judge(states, list(meetings), now, hub(**cfg), since or now - timedelta(hours=1))
    return sorted(found.conditions), sorted(found.held)


# -- offline ----------------------------------------------------------------------------------


def test_the_last_will_is_offline_at_once_and_a_never_seen_site_is_not():
    assert keys([site(online=False), site("bo-y", seen=False, online=None, last_seen=None,
                                          status=None)]) == (["offline:dak-ang"], [])  # fmt: skip


def test_silence_counts_from_when_the_hub_began_to_listen():
    quiet = [site(last_seen=T0 - timedelta(seconds=200))]
    assert keys(quiet, since=T0 - timedelta(seconds=60)) == ([], ["offline:dak-ang"])
    assert keys(quiet, since=T0 - timedelta(seconds=180)) == (["offline:dak-ang"], [])
    assert keys(quiet, since=T0 - timedelta(hours=1), offline_after_s=300) == ([], [])


def test_every_site_silent_at_once_is_the_hub_cut_off():
    quiet = [site(s, last_seen=T0 - timedelta(minutes=10)) for s in ("dak-ang", "bo-y")]
    assert keys(quiet) == (["no-data:ngoc-hoi"], ["offline:bo-y", "offline:dak-ang"])
    # one site still heard: the other one is offline
    assert keys([quiet[0], site("bo-y")]) == (["offline:dak-ang"], [])


# -- line -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tests, alert",
    [
        ([net(31, 14, "fail", "isp")] * 3, True),
        ([net(31, 14, "fail", "isp")] * 2, False),  # not yet N tests
        ([net(93, 91)] + [net(31, 14, "fail", "isp")] * 2, False),  # the newest is good
        ([net(49.9, 91, "degraded", "isp")] * 3, True),  # below 50 even if only "degraded"
        ([net(93, 91, "fail", "room-lan")] * 3, True),  # fast, but failing (a LAN fault)
        ([net(60, 60, "degraded", "isp")] * 3, False),  # above target, not failing
    ],
)
def test_the_line_alert_needs_n_measured_tests_in_a_row_short_of_the_target(tests, alert):
    assert keys([site(net=tuple(tests))])[0] == (["line:dak-ang"] if alert else [])


def test_the_line_alert_names_who_acts_from_the_probes_verdict_and_the_hubs_target():
    s = site(net=(net(93, 91, "fail", "room-lan"),) * 3)
    found = judge([s], [], T0, hub(), T0 - timedelta(hours=1))
    assert found.conditions["line:dak-ang"].detail["actors"] == ["room-lan"]
    below = site(net=(net(40, 40, "ok", None),) * 3)  # the probe's own target may be lower
    cfg = config.HubConfig.model_validate({"hub_id": "ngoc-hoi", "line": {
        "target_download_mbps": 45, "target_upload_mbps": 45}})  # fmt: skip
    c = judge([below], [], T0, cfg, T0 - timedelta(hours=1)).conditions["line:dak-ang"]
    assert c.detail["actors"] == ["isp"] and c.detail["target"]["download_mbps"] == 45
    assert keys([below], line_bad_tests=4)[0] == []  # only three tests measured


# -- audio ------------------------------------------------------------------------------------


def ev(kind: str, **details: Any) -> dict[str, Any]:
    return {"event": kind, "ts": utc_iso(T0), "message": {"vi": "hú", "en": "howl"},
            "details": details}  # fmt: skip


def test_standing_faults_end_with_a_later_fault_cleared():
    fault = ev("fault", check="audio.mixer", status="fail", actor="room-audio")
    assert standing_faults([fault]) == (fault,)
    assert standing_faults([fault, ev("fault_cleared", cleared="audio.howling")]) == ()
    assert standing_faults([ev("fault_cleared", cleared="x"), fault]) == (fault,)
    assert standing_faults([ev("fault", check="system.disk")]) == ()  # not the audio's
    # With reasons named, a clear ends only its own fault.
    hum = ev("fault", check="audio.cabling", reason="audio.hum")
    howl = ev("fault", check="audio.speakers", reason="audio.howling")
    assert standing_faults([hum, howl, ev("fault_cleared", cleared="audio.howling")]) == (hum,)


def test_audio_alerts_on_a_failed_test_or_a_standing_fault_but_not_a_degraded_test():
    failed = {"ts": utc_iso(T0), "verdict": v("audio", "fail", "room-audio"), "components": []}
    degraded = {**failed, "verdict": v("audio", "degraded", "room-audio")}
    assert keys([site(audio=failed)])[0] == ["audio:dak-ang"]
    assert keys([site(audio=degraded)])[0] == []
    probe_fault = ev("fault", check="audio.probe", actor="probe")
    found = judge([site(faults=(probe_fault,))], [], T0, hub(), T0 - timedelta(hours=1))
    assert found.conditions["audio:dak-ang"].detail["actors"] == ["probe"]


# -- not ready --------------------------------------------------------------------------------


RUN = {
    "ts": utc_iso(T0),
    "meeting_id": "m1",
    "parts": {"network": v("net", "ok"), "audio": v("audio", "fail", "room-audio"),
              "system": v("system", "ok")},
}  # fmt: skip


def meeting(start: datetime, sites: tuple[str, ...] = ()) -> Meeting:
    return Meeting("m1", "Họp giao ban", start, start + timedelta(hours=2), sites)


@pytest.mark.parametrize(
    "state, reason",
    [
        (site(online=False), "offline"),
        (site(seen=False, online=None, last_seen=None, status=None), "never"),
        (site(status=status(audio=v("audio", "fail", "room-audio"))), "fail"),
        (site(status=status(network=v("net", "unknown"))), "untested"),
        (site(last_seen=T0 - timedelta(minutes=11)), "stale"),
        (site(readiness=RUN), "fail"),  # the probe's own readiness run for this meeting
    ],
)
def test_a_room_not_ready_within_the_lead_is_an_alert(state: SiteState, reason: str):
    m = meeting(T0 + timedelta(minutes=29))
    found = judge([state], [m], T0, hub(), T0 - timedelta(hours=1))
    c = found.conditions["not-ready:m1:dak-ang"]
    assert [r["code"] for r in c.detail["reasons"]] == [reason]
    assert c.detail["meeting"]["start"] == utc_iso(m.start)
    if reason in ("offline", "never", "stale"):
        assert c.detail["actors"] == ["probe"]  # IT staff, as the board says


def test_a_readiness_run_for_another_meeting_is_not_this_meetings_answer():
    other = site(readiness={**RUN, "meeting_id": "m0"})
    m = meeting(T0 + timedelta(minutes=10))
    assert keys([other], meetings=(m,)) == (["not-ready:m1:dak-ang"], [])
    # Unknown, not the other meeting's not-ready: this meeting has no check from the room.
    c = judge([other], [m], T0, hub(), T0 - timedelta(hours=1)).conditions["not-ready:m1:dak-ang"]
    assert c.detail["state"] == "unknown"
    assert [r["part"] for r in c.detail["reasons"]] == ["readiness"]


READY_RUN = {**RUN, "parts": {**RUN["parts"], "audio": v("audio", "ok")}}


def test_a_room_with_no_check_by_the_first_lead_time_is_unknown_whoever_its_status_says():
    """[meetings] readiness_lead_s: the first (largest) is when the board expects answers."""
    leads = {"readiness_lead_s": [3600.0, 1200.0]}
    hub_cfg = config.HubConfig.model_validate({"hub_id": "ngoc-hoi", "meetings": leads,
                                               "alerts": {"meeting_lead_min": 90}})  # fmt: skip
    quiet = site()  # a healthy status, no readiness run
    for minutes_ahead, expected in [(70, None), (55, None), (40, "no_check")]:
        m = meeting(T0 + timedelta(minutes=minutes_ahead))
        found = judge([quiet], [m], T0, hub_cfg, T0 - timedelta(hours=1)).conditions
        if expected is None:
            # Before the first lead time the status stands in; a run may be under way
            # for a while after it: the board says "checking", no alert goes out.
            assert found == {}, minutes_ahead
            continue
        c = found["not-ready:m1:dak-ang"]
        assert c.detail["state"] == "unknown", minutes_ahead
        assert c.detail["reasons"][0]["message"]["en"] == (
            "The room's probe has sent no readiness check for this meeting"
        )
        assert c.detail["who"] == ["untested"]  # the room's staff: press the test button
    # A fault in the status is still a fault, with who acts on it.
    bad = site(status=status(network=v("net", "fail", "isp")))
    m = meeting(T0 + timedelta(minutes=40))
    c = judge([bad], [m], T0, hub_cfg, T0 - timedelta(hours=1)).conditions["not-ready:m1:dak-ang"]
    assert c.detail["state"] == "not-ready" and c.detail["actors"] == ["isp"]


def test_a_silent_room_before_a_meeting_waits_while_the_hub_has_just_started():
    quiet = site(last_seen=T0 - timedelta(minutes=11))
    m = meeting(T0 + timedelta(minutes=10))
    found = judge([quiet], [m], T0, hub(), T0 - timedelta(seconds=30))
    assert found.conditions == {} and found.held == {"offline:dak-ang", "not-ready:m1:dak-ang"}


def test_not_ready_only_within_the_lead_and_until_the_end_and_only_for_its_sites():
    bad = site(status=status(network=v("net", "fail", "isp")))
    for start, expected in [
        (T0 + timedelta(minutes=31), []),  # too far ahead
        (T0 - timedelta(minutes=90), ["not-ready:m1:dak-ang"]),  # on now
        (T0 - timedelta(hours=2), []),  # over
    ]:
        assert [k for k in keys([bad], meetings=(meeting(start),))[0] if "not-ready" in k] == (
            expected
        )
    elsewhere = meeting(T0 + timedelta(minutes=10), ("bo-y",))
    assert keys([bad], meetings=(elsewhere,))[0] == ["not-ready:m1:bo-y"]  # never seen
    ready = site(readiness=READY_RUN)
    assert keys([ready], meetings=(meeting(T0 + timedelta(minutes=10)),)) == ([], [])
    degraded_run = {**READY_RUN, "parts": {**READY_RUN["parts"],
                                           "network": v("net", "degraded", "isp")}}  # fmt: skip
    degraded = site(readiness=degraded_run)
    assert keys([degraded], meetings=(meeting(T0 + timedelta(minutes=10)),)) == ([], [])


# -- texts ------------------------------------------------------------------------------------


def test_every_text_has_vietnamese_and_english():
    for key, pair in TEXTS.items():
        assert len(pair) == 2 and all(pair), key
        assert pair[0] != pair[1] or "{" in pair[0], key


def test_a_notice_reads_vietnamese_first_with_local_times_and_who_acts():
    m = meeting(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    s = site(status=status(network=v("net", "fail", "isp")), online=True)
    c = judge([s], [m], T0, hub(), T0 - timedelta(hours=1)).conditions["not-ready:m1:dak-ang"]
    title, text = compose("not-ready", "opened", "dak-ang", "Xã Đắk Ang", c.detail,
                          utc_iso(T0), None, HCM, "http://hub.example/")  # fmt: skip
    when = "08:00 30/11/2026"  # 01:00 UTC in Asia/Ho_Chi_Minh
    assert (
        title["vi"] == f'Cảnh báo: Xã Đắk Ang chưa sẵn sàng cho cuộc họp "Họp giao ban" lúc {when}'
    )
    assert title["en"] == f'Alert: Xã Đắk Ang is not ready for the meeting "Họp giao ban" at {when}'
    assert "(còn 30 phút)" in text["vi"] and "Từ lúc: 07:30 30/11/2026" in text["vi"]
    assert "Nhà mạng — Liên hệ nhà mạng" in text["vi"] and "The ISP — Call the ISP" in text["en"]
    assert "Bảng theo dõi: http://hub.example/" in text["vi"]
    closed = {**c.detail, "closed_because": "meeting_ended"}
    later = utc_iso(T0 + timedelta(hours=3, minutes=5))
    title, text = compose("not-ready", "closed", "dak-ang", "Xã Đắk Ang", closed, utc_iso(T0),
                          later, HCM)  # fmt: skip
    assert title["vi"].startswith('Đã đóng cảnh báo: cuộc họp "Họp giao ban" đã kết thúc')
    assert "kéo dài 3 giờ 5 phút" in text["vi"] and "lasted 3 h 5 min" in text["en"]
    assert "Không cần xử lý thêm." in text["vi"]


def test_an_email_subject_keeps_its_spaces_and_vietnamese_comes_first():
    cfg = hub(smtp_host="mail.example", smtp_security="none", mail_from="Roomhub Ngọc Hồi <r@x.vn>",
              mail_to=["Cán bộ CNTT <it@x.vn>"]).alerts  # fmt: skip
    title = {"vi": "Cảnh báo: Xã Đắk Ang mất kết nối", "en": "Alert: Xã Đắk Ang is offline"}
    n = notify.Notice(alert_id=7, key="offline:dak-ang", kind="offline", event="recovered",
                      site="dak-ang", site_name="Xã Đắk Ang", opened_at=utc_iso(T0),
                      closed_at=utc_iso(T0), at=utc_iso(T0), actor="room-lan",
                      actors=("room-lan",), title=title, text={"vi": "Tiếng Việt", "en": "English"},
                      detail={}, hub_id="ngoc-hoi", hub_name="Huyện Ngọc Hồi")  # fmt: skip
    raw = notify.MailSender(cfg).message(n).as_bytes()
    assert raw.isascii()  # every header encoded, the body in base64
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert back["Subject"] == f"[Huyện Ngọc Hồi] {title['vi']} / {title['en']}"
    assert back["From"].addresses[0].display_name == "Roomhub Ngọc Hồi"
    assert back["To"].addresses[0].username == "it"
    assert back["In-Reply-To"] == "<roomhub.ngoc-hoi.alert-7.opened@x.vn>"
    content = back.get_content()
    assert content.index("Tiếng Việt") < content.index("English")
    assert list(n.document()["title"]) == ["vi", "en"] and n.document()["id"] == "7-recovered"


# -- the retry plan ---------------------------------------------------------------------------


def test_retries_wait_double_each_time_and_stop_at_max_attempts():
    alert = {"id": 1, "opened_at": utc_iso(T0), "closed_at": None, "detail": {}}
    cfg = hub(retry_after_s=60, max_attempts=3).alerts
    horizon = utc_iso(T0 - timedelta(days=1))

    def due(tries: list[tuple[datetime, bool]], at: datetime) -> bool:
        attempts = {(1, "opened", "email"): [(utc_iso(t), ok) for t, ok in tries]}
        return bool(plan([alert], attempts, "email", at, cfg, horizon))

    assert due([], T0)
    assert not due([(T0, False)], T0 + timedelta(seconds=59))
    assert due([(T0, False)], T0 + timedelta(seconds=60))
    two = [(T0, False), (T0 + timedelta(seconds=60), False)]
    assert not due(two, T0 + timedelta(seconds=179)) and due(two, T0 + timedelta(seconds=180))
    assert not due([*two, (T0 + timedelta(seconds=180), False)], T0 + timedelta(days=1))
    assert not due([(T0, True)], T0 + timedelta(hours=1))  # delivered


def test_a_recovery_goes_only_where_the_opening_arrived():
    closed = {"id": 1, "opened_at": utc_iso(T0), "closed_at": utc_iso(T0), "detail": {}}
    cfg = hub().alerts
    horizon = utc_iso(T0 - timedelta(days=1))
    told = {(1, "opened", "email"): [(utc_iso(T0), True)]}
    assert plan([closed], told, "email", T0, cfg, horizon) == [(closed, "recovered")]
    assert plan([closed], {}, "email", T0, cfg, horizon) == []
    meeting_over = {**closed, "detail": {"closed_because": "meeting_ended"}}
    assert plan([meeting_over], told, "email", T0, cfg, horizon) == [(meeting_over, "closed")]


# -- the config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section, words",
    [
        ('webhook_urls = ["ftp://chat.example/hook"]',
         "alerts.webhook_urls[0] = 'ftp://chat.example/hook': expected an http:// or https:// URL"),
        ('webhook_urls = ["chat.example/hook"]', "expected an http:// or https:// URL"),
        ('dashboard_url = "hub.example"', "alerts.dashboard_url = 'hub.example': expected an http"),
        ('smtp_host = "mail.example"\nmail_from = "roomhub.example"\nmail_to = ["it@x.vn"]',
         "alerts.mail_from = 'roomhub.example': expected an e-mail address"),
        ('smtp_host = "mail.example"\nmail_from = "r@x.vn"\nmail_to = ["it@x.vn, b@x.vn"]',
         "alerts.mail_to[0] = 'it@x.vn, b@x.vn': expected one e-mail address per item"),
        ('smtp_host = "mail.example"\nmail_to = ["it@x.vn"]',
         "alerts.mail_from = None: required when smtp_host is set"),
        ('smtp_host = "mail.example"\nmail_from = "r@x.vn"',
         "alerts.mail_to = []: at least one recipient is required when smtp_host is set"),
        ('mail_to = ["it@x.vn"]', "set smtp_host too"),
        ('smtp_password_file = "/etc/roomhub/smtp-password"',
         "a password file needs smtp_username as well"),
        ('smtp_security = "ssl"', "alerts.smtp_security = 'ssl'"),
        ("line_bad_tests = 0", "alerts.line_bad_tests = 0"),
        ("max_attempts = 0", "alerts.max_attempts = 0"),
        ("smtp_port = 0", "alerts.smtp_port = 0"),
        ("offline_after_s = 1", "alerts.offline_after_s = 1"),
        ("webhook_url = []", "alerts.webhook_url: unknown key"),
    ],
)  # fmt: skip
def test_bad_alert_settings_are_refused_naming_the_key(section: str, words: str):
    with pytest.raises(ConfigError) as caught:
        config.parse(f'hub_id = "ngoc-hoi"\n[alerts]\n{section}\n')
    assert words in str(caught.value)


def test_the_default_config_sends_nothing_and_a_full_one_loads():
    assert notify.senders(hub().alerts) == []
    full = config.parse(
        'hub_id = "ngoc-hoi"\n[alerts]\nwebhook_urls = ["https://chat.example/h?t=1"]\n'
        'smtp_host = "mail.example"\nsmtp_username = "roomhub"\n'
        'smtp_password_file = "/etc/roomhub/smtp-password"\n'
        'mail_from = "Roomhub <roomhub@example.org>"\nmail_to = ["it@example.org"]\n'
    )
    channels = [s.channel for s in notify.senders(full.alerts)]
    assert channels[1] == "email" and channels[0].startswith("webhook:chat.example#")
    assert "t=1" not in channels[0]


def test_a_ca_file_that_cannot_be_read_is_a_delivery_error_not_a_crash(tmp_path):
    n = notify.Notice(alert_id=1, key="offline:dak-ang", kind="offline", event="opened",
                      site="dak-ang", site_name="Xã Đắk Ang", opened_at=utc_iso(T0),
                      closed_at=None, at=utc_iso(T0), actor="probe", actors=("probe",),
                      title={"vi": "a", "en": "b"}, text={"vi": "a", "en": "b"}, detail={},
                      hub_id="ngoc-hoi", hub_name="")  # fmt: skip
    missing = tmp_path / "missing-ca.crt"
    sender = notify.WebhookSender("https://chat.example.invalid/hook", 1.0, missing)
    with pytest.raises(notify.DeliveryError, match="cannot use the CA certificate") as caught:
        sender.send(n)
    assert caught.value.channel_down
