"""The hub's alerts against real receivers: an SMTP server (aiosmtpd) and an HTTP webhook.

The store is the real one (SQLite, then a private PostgreSQL: ``hub_db_url``),
fed contract-valid payloads through ``Store.write`` as the consumer does; one
test runs the whole path with a real broker, hub and simulated probes. The
watcher is called with the time each round happens (``run_once(now)``); no
clock is patched.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine, text

from receivers import Webhook
from rig import Rig, wait_for
from roomhub import pki, schedule
from roomhub.alerts import AlertWatcher
from roomhub.broker import free_port
from roomhub.config import HubConfig
from roomhub.database import open_engine
from roomhub.store import Incoming, Store
from roomprobe.contract import Stamp, schema_document, topics, validate

SITE, NAME = "dak-ang", "Xã Đắk Ang"
HUB_NAME = "Văn phòng HĐND và UBND huyện Ngọc Hồi"


# -- receivers -----------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler keeping every message; ``refuse`` answers 550 to the data."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "550 5.7.1 refused by the test"
        raw = envelope.original_content or envelope.content
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        return "250 OK"


class SmtpServer:
    def __init__(self, **options: Any) -> None:
        self.box = Mailbox()
        self.port = free_port()
        self.options = options
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port,
                                     **self.options)  # fmt: skip
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return self.box.messages


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    receiver = Webhook()
    try:
        yield receiver
    finally:
        receiver.close()


# -- the store, fed as the consumer feeds it -----------------------------------------------


def verdict(check: str, status: str, reason: str, actor: str | None = None,
            vi: str = "Lỗi thử nghiệm", en: str = "A test fault") -> dict[str, Any]:  # fmt: skip
    return {"check": check, "status": status, "reason": reason,
            "message": {"vi": vi, "en": en}, "actor": actor}  # fmt: skip


OK = {
    "network": verdict("net", "ok", "net.ok", None, "Đường truyền đạt yêu cầu", "The line is OK"),
    "audio": verdict("audio", "ok", "audio.ok", None, "Âm thanh đạt yêu cầu", "Audio is OK"),
    "system": verdict("system", "ok", "system.ok", None, "Thiết bị bình thường", "Probe OK"),
}


class Probe:
    """Writes one site's contract-valid messages through Store.write, as the consumer does."""

    def __init__(self, store: Store, site: str = SITE):
        self.store = store
        self.site = site
        self.seq = 0
        self.stamp = Stamp(site, str(uuid.uuid4()), lambda: True)

    def _put(self, schema: str, topic: str, durable: bool = True, **body: Any) -> None:
        self.seq += durable
        example = schema_document(schema)["examples"][0]
        envelope = self.stamp.envelope(schema, max(self.seq, 1))
        payload = {**{k: v for k, v in example.items() if k not in envelope}, **envelope, **body}
        payload = validate(json.loads(json.dumps(payload)), schema)
        out = self.store.write([Incoming(topic, json.dumps(payload).encode(), payload)])
        assert out.outcomes == ["stored"]

    def status(self, online: bool = True, **parts: dict[str, Any]) -> None:
        self._put("roomprobe.status", topics.status(self.site), durable=False, online=online,
                  verdicts={**OK, **parts})  # fmt: skip

    def net(self, down: float, up: float, status: str = "ok", actor: str | None = None) -> None:
        reason = "net.ok" if status == "ok" else "net.upload_low"
        v = verdict("net", status, reason, actor, f"Tải lên {up} Mbps", f"Upload {up} Mbps")
        metrics = {**schema_document("roomprobe.result.net")["examples"][0]["metrics"],
                   "download_mbps": down, "upload_mbps": up}  # fmt: skip
        self._put("roomprobe.result.net", topics.result(self.site, "net"), verdict=v,
                  metrics=metrics)  # fmt: skip

    def audio(self, status: str) -> None:
        if status == "ok":
            v, parts = OK["audio"], []
        else:
            words = ("Mất tiếng: loa không phát", "No sound: the speakers are silent")
            v = verdict("audio", status, "audio.speakers_dead", "room-audio", *words)
            parts = [verdict("audio.speakers", status, "audio.speakers_dead", "room-audio",
                             "Loa hoặc âm li không hoạt động",
                             "The speakers or the amplifier do not work")]  # fmt: skip
        self._put("roomprobe.result.audio", topics.result(self.site, "audio"), verdict=v,
                  components=parts)  # fmt: skip

    def event(self, event: str, details: dict[str, Any]) -> None:
        message = {"vi": "Có tiếng hú trong phòng", "en": "Howling in the room"}
        self._put("roomprobe.event", topics.event(self.site), event=event, message=message,
                  details=details)  # fmt: skip


def hub_config(hook: Webhook | None, smtp: SmtpServer | None,
               meetings: dict[str, Any] | None = None, **alerts: Any) -> HubConfig:  # fmt: skip
    section: dict[str, Any] = {"retry_after_s": 0, "dashboard_url": "http://hub.example/"}
    if hook is not None:
        section["webhook_urls"] = [hook.url]
    if smtp is not None:
        section |= {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
                    "mail_from": "Roomhub <roomhub@ngoc-hoi.example>",
                    "mail_to": ["it@ngoc-hoi.example", "van-phong@ngoc-hoi.example"]}  # fmt: skip
    section |= alerts
    return HubConfig.model_validate({
        "hub_id": "ngoc-hoi", "name": HUB_NAME,
        "sites": [{"id": SITE, "name": NAME}, {"id": "bo-y", "name": "Xã Bờ Y"}],
        "alerts": section, "meetings": meetings or {},
    })  # fmt: skip


@pytest.fixture
def store(hub_db_url: str) -> Iterator[Store]:
    s = Store(hub_db_url)  # migrates
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def engines(hub_db_url: str) -> Iterator[list[Engine]]:
    """Each watcher's own writing engine, as each hub process has."""
    made: list[Engine] = []
    try:
        yield made
    finally:
        for e in made:
            e.dispose()


def watcher(cfg: HubConfig, url: str, engines: list[Engine]) -> AlertWatcher:
    engine = open_engine(url)
    engines.append(engine)
    return AlertWatcher(cfg, engine)


def rows(store: Store, sql: str, **params: Any) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def now() -> datetime:
    return datetime.now(UTC)


def body(msg: email.message.EmailMessage) -> str:
    return msg.get_content()


# -- each rule: one alert, one POST, one e-mail; nothing more; one recovery ------------------


def _offline(p: Probe, bad: bool) -> None:
    p.status(online=not bad)


def _line(p: Probe, bad: bool) -> None:
    if bad:
        for _ in range(3):
            p.net(31.0, 14.0, "fail", "isp")
    else:
        p.net(93.0, 91.0)


def _audio(p: Probe, bad: bool) -> None:
    p.audio("fail" if bad else "ok")


def _fault(p: Probe, bad: bool) -> None:
    if bad:
        p.event("fault", {"check": "audio.mixer", "status": "fail", "actor": "room-audio"})
    else:
        p.event("fault_cleared", {"cleared": "audio.howling"})


def _not_ready(p: Probe, bad: bool) -> None:
    if bad:
        p.status(audio=verdict("audio", "fail", "audio.no_signal", "room-audio",
                               "Mất tiếng: không nhận được tín hiệu thử",
                               "No sound: the test signal did not come back"))  # fmt: skip
    else:
        p.status()


RULES = {
    # rule: (writer, key, kind, words the opening notice must carry (vi, en))
    "offline": (_offline, f"offline:{SITE}", "offline",
                ("kiểm tra nguồn điện", "check the probe's power")),
    "line": (_line, f"line:{SITE}", "line", ("Liên hệ nhà mạng", "Call the ISP")),
    "audio": (_audio, f"audio:{SITE}", "audio",
              ("Kiểm tra loa / micro / âm li", "Check the speakers / microphones / amplifier")),
    "audio-fault": (_fault, f"audio:{SITE}", "audio", ("Có tiếng hú", "Howling in the room")),
    "not-ready": (_not_ready, "not-ready:", "not-ready",
                  ("chưa sẵn sàng cho cuộc họp", "is not ready for the meeting")),
}  # fmt: skip


@pytest.mark.parametrize("rule", list(RULES))
def test_each_rule_alerts_once_and_recovers_once(
    rule: str, store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook,
    smtp: SmtpServer,
):  # fmt: skip
    write, key, kind, (vi_words, en_words) = RULES[rule]
    probe = Probe(store)
    probe.status()
    probe.net(93.0, 91.0)
    probe.audio("ok")
    if rule == "not-ready":
        start = now() + timedelta(minutes=10)
        meeting = schedule.add(store.engine, "Họp giao ban tuần / Weekly briefing", start,
                               start + timedelta(hours=1), [SITE])  # fmt: skip
        key = f"not-ready:{meeting.id}:{SITE}"
    # Readiness checks from 5 min before: 10 min ahead, the room's status stands in for one.
    w = watcher(hub_config(hook, smtp, {"readiness_lead_s": [300.0], "meeting_guard_s": 60.0}),
                hub_db_url, engines)  # fmt: skip
    assert w.run_once(now()) == []  # all is well: nothing to say

    write(probe, bad=True)
    opened = w.run_once(now())
    assert [(t.key, t.kind, t.event) for t in opened] == [(key, kind, "opened")]
    assert len(hook.posts) == 1 and len(smtp.messages) == 1
    doc, mail = hook.posts[0], smtp.messages[0]
    assert (doc["key"], doc["kind"], doc["event"], doc["site"]) == (key, kind, "opened", SITE)
    assert doc["site_name"] == NAME and doc["hub_id"] == "ngoc-hoi"
    assert doc["actor"] in ("isp", "room-lan", "room-audio", "probe")
    assert list(doc["text"]) == ["vi", "en"] and list(doc["title"]) == ["vi", "en"]
    assert vi_words in doc["text"]["vi"] and en_words in doc["text"]["en"]
    # Vietnamese first, in the subject and in the body; UTF-8 throughout.
    subject, text_ = mail["Subject"], body(mail)
    assert subject.index(doc["title"]["vi"]) < subject.index(doc["title"]["en"])
    assert text_.index(vi_words) < text_.index("English") < text_.index(en_words)
    assert text_.index("Ai cần xử lý") < text_.index("Who must act")
    assert mail["To"] == "it@ngoc-hoi.example, van-phong@ngoc-hoi.example"
    delivered = rows(store, "SELECT channel, ok FROM deliveries ORDER BY id")
    assert [d["ok"] for d in delivered] == [1, 1]

    assert w.run_once(now()) == []  # still true: nothing more is sent
    write(probe, bad=True)
    assert w.run_once(now()) == []
    assert len(hook.posts) == 1 and len(smtp.messages) == 1

    write(probe, bad=False)
    closed = w.run_once(now())
    assert [(t.key, t.event) for t in closed] == [(key, "recovered")]
    assert [p["event"] for p in hook.posts] == ["opened", "recovered"]
    assert hook.posts[1]["closed_at"] and hook.posts[1]["alert_id"] == doc["alert_id"]
    assert len(smtp.messages) == 2
    assert smtp.messages[1]["In-Reply-To"] == mail["Message-ID"]  # threaded under the alert
    assert "Không cần xử lý thêm" in body(smtp.messages[1])
    (alert,) = rows(store, "SELECT key, closed_at FROM alerts")
    assert alert["key"] == key and alert["closed_at"] is not None

    assert w.run_once(now()) == []
    assert len(hook.posts) == 2 and len(smtp.messages) == 2


def test_a_condition_that_comes_back_opens_a_new_alert(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook
):
    probe = Probe(store)
    w = watcher(hub_config(hook, None), hub_db_url, engines)
    for online in (False, True, False):
        probe.status(online=online)
        w.run_once(now())
    assert [(p["event"], p["alert_id"]) for p in hook.posts] == [
        ("opened", hook.posts[0]["alert_id"]),
        ("recovered", hook.posts[0]["alert_id"]),
        ("opened", hook.posts[2]["alert_id"]),
    ]
    assert hook.posts[2]["alert_id"] != hook.posts[0]["alert_id"]
    opened = rows(store, "SELECT id FROM alerts WHERE closed_at IS NULL")
    assert [r["id"] for r in opened] == [hook.posts[2]["alert_id"]]


def test_a_hub_restart_neither_resends_nor_forgets(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook, smtp: SmtpServer
):
    probe = Probe(store)
    probe.status(online=False)
    cfg = hub_config(hook, smtp)
    first = watcher(cfg, hub_db_url, engines)
    assert [t.event for t in first.run_once(now())] == ["opened"]
    assert len(hook.posts) == 1 and len(smtp.messages) == 1

    restarted = watcher(cfg, hub_db_url, engines)  # a new process on the same store
    assert restarted.run_once(now()) == []
    assert len(hook.posts) == 1 and len(smtp.messages) == 1

    probe.status(online=True)
    assert [t.event for t in restarted.run_once(now())] == ["recovered"]
    assert [p["event"] for p in hook.posts] == ["opened", "recovered"]
    assert len(smtp.messages) == 2


def test_silence_is_offline_only_once_the_hub_has_listened_that_long(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook
):
    Probe(store).status()
    t0 = now()
    limit = timedelta(seconds=180)
    fresh = watcher(hub_config(hook, None), hub_db_url, engines)
    # A hub just started hears nothing yet: the broker may still be handing it the backlog.
    assert fresh.run_once(t0 + limit * 2) == []
    assert fresh.run_once(t0 + limit * 2 + timedelta(seconds=60)) == []
    opened = fresh.run_once(t0 + limit * 3 + timedelta(seconds=1))
    assert [(t.key, t.event) for t in opened] == [(f"offline:{SITE}", "opened")]
    assert "không nhận được tin nào" in hook.posts[0]["text"]["vi"]
    # Restarted in the middle of the silence, a hub keeps the alert open while it listens.
    restarted = watcher(hub_config(hook, None), hub_db_url, engines)
    assert restarted.run_once(t0 + limit * 4) == []
    assert rows(store, "SELECT count(*) AS n FROM alerts WHERE closed_at IS NULL")[0]["n"] == 1
    assert len(hook.posts) == 1


def test_when_no_site_is_heard_the_hub_is_cut_off_not_the_rooms(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook
):
    Probe(store, SITE).status()
    Probe(store, "bo-y").status()
    t0 = now()
    w = watcher(hub_config(hook, None), hub_db_url, engines)
    w.run_once(t0)
    found = w.run_once(t0 + timedelta(seconds=181))
    assert [(t.key, t.kind) for t in found] == [("no-data:ngoc-hoi", "no-data")]
    assert hook.posts[0]["actor"] == "probe" and "Cán bộ CNTT" in hook.posts[0]["text"]["vi"]


def test_not_ready_names_the_meeting_and_closes_when_it_ends(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook, smtp: SmtpServer
):
    t0 = now()
    start = t0 + timedelta(minutes=20)
    meeting = schedule.add(store.engine, "Họp giao ban tuần", start,
                           start + timedelta(hours=1), [])  # every site  # fmt: skip
    probe = Probe(store)
    words = ("Tốc độ tải xuống 12.0 Mbps, thấp hơn yêu cầu 50 Mbps",
             "Download speed 12.0 Mbps is below the required 50 Mbps")  # fmt: skip
    probe.status(network=verdict("net", "fail", "net.download_low", "isp", *words))
    w = watcher(hub_config(hook, smtp), hub_db_url, engines)
    # Further ahead than the lead: nothing yet.
    assert w.run_once(t0 - timedelta(minutes=15)) == []
    opened = w.run_once(t0)
    assert sorted(t.key for t in opened) == [
        f"not-ready:{meeting.id}:bo-y",  # configured, never connected
        f"not-ready:{meeting.id}:{SITE}",
    ]
    by_site = {p["site"]: p for p in hook.posts}
    dak_ang = by_site[SITE]
    assert dak_ang["actor"] == "isp" and dak_ang["detail"]["meeting"]["id"] == meeting.id
    vi, en = dak_ang["text"]["vi"], dak_ang["text"]["en"]
    local_start = start.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M %d/%m/%Y")
    assert f'cuộc họp "Họp giao ban tuần" lúc {local_start}' in vi
    assert "(còn 20 phút)" in vi and "(in 20 min)" in en
    assert "Đường truyền: Tốc độ tải xuống 12.0 Mbps" in vi and "Liên hệ nhà mạng" in vi
    assert "Asia/Ho_Chi_Minh" in vi
    never = by_site["bo-y"]
    assert never["actor"] == "probe" and "chưa từng kết nối" in never["text"]["vi"]

    # The meeting ends with the room still not ready: the alert is closed, not "recovered".
    ended = [t for t in w.run_once(start + timedelta(hours=1, minutes=1))
             if t.kind == "not-ready"]  # fmt: skip
    assert sorted(t.event for t in ended) == ["closed", "closed"]
    closing = [p for p in hook.posts if p["kind"] == "not-ready" and p["event"] == "closed"]
    assert len(closing) == 2 and "đã kết thúc" in closing[0]["text"]["vi"]


# -- receivers that are down -----------------------------------------------------------------


def test_a_failing_webhook_is_recorded_and_retried_while_email_delivers(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook, smtp: SmtpServer
):
    hook.status = 500
    probe = Probe(store)
    probe.status(online=False)
    w = watcher(hub_config(hook, smtp), hub_db_url, engines)
    w.run_once(now())
    assert len(smtp.messages) == 1  # the other channel delivered
    attempts = rows(store, "SELECT channel, ok, error FROM deliveries ORDER BY id")
    failed = [a for a in attempts if not a["ok"]]
    assert [a["channel"] for a in attempts if a["ok"]] == ["email"]
    assert len(failed) == 1 and failed[0]["error"] == "HTTP 500 Internal Server Error"
    assert "s3cret" not in failed[0]["channel"]  # the URL's token stays out of the store

    w.run_once(now())  # still failing: a second attempt
    hook.status = 200
    w.run_once(now())  # delivered now
    w.run_once(now())  # and never again
    assert [p["event"] for p in hook.posts] == ["opened"] * 3
    assert len(smtp.messages) == 1
    oks = [a["ok"] for a in rows(store, "SELECT ok FROM deliveries WHERE channel <> 'email' "
                                        "ORDER BY id")]  # fmt: skip
    assert oks == [0, 0, 1]


def test_attempts_stop_at_max_attempts_and_wait_between_tries(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook
):
    hook.status = 503
    Probe(store).status(online=False)
    t0 = now()
    w = watcher(hub_config(hook, None, max_attempts=3, retry_after_s=60), hub_db_url, engines)
    w.run_once(t0)
    w.run_once(t0 + timedelta(seconds=30))  # not yet: the first retry waits 60 s
    w.run_once(t0 + timedelta(seconds=61))
    w.run_once(t0 + timedelta(seconds=120))  # the second retry waits 120 s after that
    w.run_once(t0 + timedelta(seconds=182))
    w.run_once(t0 + timedelta(hours=2))  # given up after three
    assert len(hook.posts) == 3
    assert len(rows(store, "SELECT id FROM deliveries")) == 3


def test_a_receiver_that_refuses_connections_is_tried_once_per_round(
    store: Store, hub_db_url: str, engines: list[Engine], smtp: SmtpServer
):
    Probe(store, SITE).status(online=False)
    Probe(store, "bo-y").status(online=False)  # two alerts in one round
    cfg = hub_config(None, smtp, webhook_urls=[f"http://127.0.0.1:{free_port()}/hook"])
    w = watcher(cfg, hub_db_url, engines)
    assert len(w.run_once(now())) == 2
    assert len(smtp.messages) == 2  # e-mail delivers both regardless
    failed = rows(store, "SELECT error FROM deliveries WHERE ok = 0")
    assert len(failed) == 1  # the channel is down: the second notice waits for the next round
    assert failed[0]["error"].startswith("cannot reach the webhook")


def test_a_mail_server_that_refuses_or_is_down_is_recorded_and_retried(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook, smtp: SmtpServer
):
    smtp.box.refuse = True
    probe = Probe(store)
    probe.status(online=False)
    w = watcher(hub_config(hook, smtp), hub_db_url, engines)
    w.run_once(now())
    assert len(hook.posts) == 1 and smtp.messages == []
    (refused,) = rows(store, "SELECT error FROM deliveries WHERE channel = 'email'")
    assert "550" in refused["error"] and "refused" in refused["error"]

    smtp.stop()  # now nobody answers at all
    w.run_once(now())
    errors = [r["error"] for r in rows(store, "SELECT error FROM deliveries "
                                              "WHERE channel = 'email' ORDER BY id")]  # fmt: skip
    assert errors[1].startswith("SMTP failed")

    smtp.box.refuse = False
    smtp.start()
    w.run_once(now())
    assert len(smtp.messages) == 1 and len(hook.posts) == 1
    oks = [r["ok"] for r in rows(store, "SELECT ok FROM deliveries WHERE channel = 'email' "
                                        "ORDER BY id")]  # fmt: skip
    assert oks == [0, 0, 1]


def test_an_opening_notice_still_undelivered_when_the_alert_ends_is_dropped(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook
):
    hook.status = 500
    probe = Probe(store)
    probe.status(online=False)
    w = watcher(hub_config(hook, None), hub_db_url, engines)
    w.run_once(now())
    hook.status = 200
    probe.status(online=True)  # back before anyone was told
    assert [t.event for t in w.run_once(now())] == ["recovered"]
    w.run_once(now())
    assert [p["event"] for p in hook.posts] == ["opened"]  # the one failed attempt only


# -- several hubs on one store ---------------------------------------------------------------


def test_two_watchers_on_one_store_send_each_notice_once(
    store: Store, hub_db_url: str, engines: list[Engine], hook: Webhook
):
    """Hubs sharing PostgreSQL (shared subscriptions) each run a watcher: one sends."""
    hook.delay = 0.2  # rounds overlap while one of them is sending
    for site in (SITE, "bo-y", "sa-loong"):
        Probe(store, site).status(online=False)
    cfg = hub_config(hook, None)
    pair = [watcher(cfg, hub_db_url, engines), watcher(cfg, hub_db_url, engines)]
    barrier = threading.Barrier(2)
    results: list[list[Any]] = [[], []]
    errors: list[BaseException] = []

    def rounds(i: int) -> None:
        try:
            for _ in range(4):
                barrier.wait(10)
                results[i] += pair[i].run_once(now())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=rounds, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(t.key for t in results[0] + results[1]) == [
        "offline:bo-y", f"offline:{SITE}", "offline:sa-loong"
    ]  # fmt: skip
    assert sorted(p["key"] for p in hook.posts) == [
        "offline:bo-y", f"offline:{SITE}", "offline:sa-loong"
    ]  # fmt: skip
    assert len(rows(store, "SELECT id FROM alerts")) == 3


# -- e-mail with STARTTLS and a login ----------------------------------------------------------


def test_email_over_starttls_with_a_login_from_a_password_file(
    tmp_path: Path, store: Store, hub_db_url: str, engines: list[Engine], caplog
):
    import ssl

    ca = pki.make_ca(tmp_path / "ca")
    cert = pki.make_server_cert(ca, tmp_path / "server", ["127.0.0.1"])
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(str(cert.cert), str(cert.key))
    password = "pw-" + uuid.uuid4().hex
    logins: list[str] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == password.encode()
        if ok:
            logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself

    smtp = SmtpServer(tls_context=server_tls, require_starttls=True, auth_required=True,
                      authenticator=authenticator).start()  # fmt: skip
    try:
        secret = tmp_path / "smtp-password"
        secret.write_text(password + "\n", encoding="utf-8")
        cfg = hub_config(None, smtp, smtp_security="starttls", smtp_username="roomhub",
                         smtp_password_file=str(secret), tls_ca=str(ca.cert),
                         smtp_timeout_s=5)  # fmt: skip
        Probe(store).status(online=False)
        w = watcher(cfg, hub_db_url, engines)
        with caplog.at_level("DEBUG"):
            w.run_once(now())
        assert logins == ["roomhub"] and len(smtp.messages) == 1
        assert smtp.messages[0]["Subject"].startswith(f"[{HUB_NAME}] Cảnh báo: {NAME} mất kết nối")

        secret.write_text("wrong\n", encoding="utf-8")
        Probe(store, "bo-y").status(online=False)
        with caplog.at_level("DEBUG"):
            w.run_once(now())
        (failed,) = rows(store, "SELECT error FROM deliveries WHERE ok = 0")
        assert failed["error"].startswith("SMTP failed: 535")
        assert password not in caplog.text and "wrong" not in failed["error"]
    finally:
        smtp.stop()


# -- the whole path: broker, hub and simulated probes ------------------------------------------


def test_real_probes_through_the_broker_raise_and_clear_alerts(
    rig: Rig, hook: Webhook, smtp: SmtpServer, tmp_path: Path
):
    rig.start_broker()
    rig.hub()
    # The box trusts its clock (this machine's may report unsynchronised), so it tests with
    # a meeting on its schedule.
    trusting = {"trust_unsynced_clock": True}
    probe = rig.probe(profile="slow-line", daemon=trusting)
    wait_for(
        lambda: len(rig.hub_query("SELECT id FROM messages WHERE schema = "
                                  "'roomprobe.result.net' AND status <> 'unknown'")) >= 3,
        what="three line tests of the slow line",
    )  # fmt: skip
    url = f"sqlite:///{rig.hub_db}"
    engine = open_engine(url)
    try:
        # Within the alert's 30 min lead, beyond the probe's 10 min guard: tests still run.
        # Past the first lead time (60 min), the box runs its readiness check at once.
        start = (now() + timedelta(minutes=25)).replace(microsecond=0)
        added = rig.roomhub("meeting", "add", "--title", "Họp trực tuyến", "--start",
                            start.isoformat(), "--minutes", "60", "--sites", SITE)  # fmt: skip
        assert added.returncode == 0, added.stderr
        meeting_id = added.stdout.split()[1]
        w = AlertWatcher(hub_config(hook, smtp, interval_s=1), engine).start()
        try:
            first = {f"line:{SITE}", f"not-ready:{meeting_id}:{SITE}"}
            wait_for(lambda: {p["key"] for p in hook.posts} >= first, what="line and not-ready")
            line = next(p for p in hook.posts if p["key"] == f"line:{SITE}")
            assert line["actor"] == "isp" and "Liên hệ nhà mạng" in line["text"]["vi"]
            board = urllib.request.urlopen(rig.web + "/", timeout=10).read().decode()
            assert f'data-alert="line:{SITE}"' in board  # the board lists what is open
            assert "Cảnh báo đang mở" in board and "Liên hệ nhà mạng" in board

            probe.kill()  # its Last Will says offline
            wait_for(lambda: any(p["key"] == f"offline:{SITE}" for p in hook.posts),
                     what="the offline alert")  # fmt: skip
            rig.probe(profile="good", daemon=trusting)  # the same room, its line mended
            wait_for(lambda: rig.hub_query("SELECT 1 FROM sites WHERE online = 1"),
                     what="the mended room online")  # fmt: skip
            # The room's staff check again, so the board has this meeting's new answer.
            assert rig.roomhub("probe", "ready", SITE).returncode == 0
            wait_for(
                lambda: (
                    {p["key"] for p in hook.posts if p["event"] == "recovered"}
                    >= {f"offline:{SITE}", f"line:{SITE}", f"not-ready:{meeting_id}:{SITE}"}
                ),
                what="every alert recovered",
            )
        finally:
            w.stop()
        assert w.state()["running"] is False
    finally:
        engine.dispose()
    keys = [(p["key"], p["event"]) for p in hook.posts]
    assert len(keys) == len(set(keys))  # each notice once
    assert len(smtp.messages) == len(hook.posts)
