"""How an alert's notice leaves the hub: a webhook POST, an e-mail over SMTP.

A sender delivers one :class:`Notice` at a time and says what went wrong by
raising :class:`DeliveryError`, whose ``channel_down`` tells the watcher
whether the rest of this round's notices on that channel can be spared the
attempt (a refused connection, a server answering 5xx, a failed login) or
only this one failed (a recipient or a body refused). The watcher records
every attempt in the store and retries later (``alerts.py``); nothing here
retries, sleeps or touches the store.

Only the standard library: ``urllib.request`` for the webhook (it honours the
usual ``https_proxy``/``no_proxy`` variables), ``smtplib`` for the mail. The
SMTP password is read from its file when a connection logs in, never kept in
the config, never logged, never put in an error message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from roomprobe import __version__
from roomprobe.contract import parse_utc

from .config import AlertsConfig

USER_AGENT = f"roomhub/{__version__}"
MAX_ERROR = 500  # characters of an error kept in the store


class DeliveryError(Exception):
    """A notice not delivered; ``channel_down``: the channel is unusable for this round."""

    def __init__(self, message: str, channel_down: bool = False):
        super().__init__(message[:MAX_ERROR])
        self.channel_down = channel_down


class DeliveredWithWarning(Exception):
    """Delivered, but not to everyone: recorded as delivered, with this note."""


@dataclass(frozen=True)
class Notice:
    """One notice about one alert: opened, recovered, or closed (its meeting is over).

    ``title`` and ``text`` are ``{"vi": ..., "en": ...}``, Vietnamese first.
    """

    alert_id: int
    key: str
    kind: str
    event: str  # opened | recovered | closed
    site: str
    site_name: str
    opened_at: str
    closed_at: str | None
    at: str  # when this event happened (opened_at, or closed_at)
    actor: str | None  # who must act first: isp, room-lan, room-audio, probe
    actors: tuple[str, ...]
    title: dict[str, str]
    text: dict[str, str]
    detail: dict[str, Any]
    hub_id: str
    hub_name: str
    dashboard_url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable across retries: a receiver can drop a second copy by it."""
        return f"{self.alert_id}-{self.event}"

    def document(self) -> dict[str, Any]:
        """The webhook's JSON body."""
        return {
            "id": self.id,
            "alert_id": self.alert_id,
            "key": self.key,
            "kind": self.kind,
            "event": self.event,
            "site": self.site,
            "site_name": self.site_name,
            "hub_id": self.hub_id,
            "hub_name": self.hub_name,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "at": self.at,
            "actor": self.actor,
            "actors": list(self.actors),
            "title": self.title,
            "text": self.text,
            "detail": self.detail,
            "dashboard_url": self.dashboard_url,
        }

    def subject(self) -> str:
        who = self.hub_name or self.hub_id
        return f"[{who}] {self.title['vi']} / {self.title['en']}"

    def body(self) -> str:
        return (
            f"{self.text['vi']}\n\n"
            "------------------------------------------------------------\n"
            "English\n\n"
            f"{self.text['en']}\n"
        )


class Sender(Protocol):
    channel: str  # the name attempts are recorded under; no secret in it

    def send(self, notice: Notice) -> None: ...

    def close(self) -> None: ...


def tls_context(ca: Path | None) -> ssl.SSLContext:
    """The system's trusted CAs, plus ``ca`` (e.g. the district's own) when given."""
    ctx = ssl.create_default_context()
    if ca is not None:
        ctx.load_verify_locations(cafile=str(ca))
    return ctx


def _context(ca: Path | None) -> ssl.SSLContext:
    try:
        return tls_context(ca)
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DeliveryError(f"cannot use the CA certificate {ca}: {why}", True) from None


def webhook_channel(url: str) -> str:
    """``webhook:<host>#<hash>``: stable per URL, without the URL's path (it may hold a token)."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"webhook:{urlsplit(url).hostname}#{digest}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be re-sent as a GET without its body: count it as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookSender:
    """POST each notice's JSON document to one URL; any 2xx answer is delivered."""

    def __init__(self, url: str, timeout_s: float, ca: Path | None = None):
        self.url = url
        self.timeout_s = timeout_s
        self.ca = ca
        self.channel = webhook_channel(url)
        self._opener: urllib.request.OpenerDirector | None = None

    def _open(self) -> urllib.request.OpenerDirector:
        if self._opener is None:  # built on first use: a bad CA file is a delivery error
            handlers: list[Any] = [_NoRedirect()]
            if urlsplit(self.url).scheme == "https":
                handlers.append(urllib.request.HTTPSHandler(context=_context(self.ca)))
            self._opener = urllib.request.build_opener(*handlers)
        return self._opener

    def send(self, notice: Notice) -> None:
        body = json.dumps(notice.document(), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Idempotency-Key": f"{notice.hub_id}-{notice.id}",
            },
        )
        try:
            with self._open().open(request, timeout=self.timeout_s) as response:
                response.read(65536)
                status = response.status
        except urllib.error.HTTPError as exc:
            # A 5xx is the receiver being down: spare it the rest of the round.
            raise DeliveryError(
                f"HTTP {exc.code} {exc.reason}", channel_down=exc.code >= 500
            ) from None
        except urllib.error.URLError as exc:
            raise DeliveryError(f"cannot reach the webhook: {exc.reason}", True) from None
        except (OSError, ValueError) as exc:  # timeouts, resets, a bad answer
            raise DeliveryError(f"webhook failed: {exc or type(exc).__name__}", True) from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}: not a success", channel_down=False)

    def close(self) -> None:
        pass


class MailSender:
    """One e-mail per notice to every ``mail_to``; one SMTP connection per round."""

    channel = "email"

    def __init__(self, cfg: AlertsConfig):
        assert cfg.smtp_host and cfg.mail_from and cfg.mail_to
        self.cfg = cfg
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        assert cfg.smtp_host is not None
        if cfg.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_s,
                context=_context(cfg.tls_ca),
            )  # fmt: skip
        else:
            smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_s)
        try:
            smtp.ehlo()
            if cfg.smtp_security == "starttls":
                smtp.starttls(context=_context(cfg.tls_ca))
                smtp.ehlo()
            if cfg.smtp_username:
                try:
                    smtp.login(cfg.smtp_username, self._password())
                except UnicodeEncodeError:  # smtplib sends ASCII only; say so, not which letter
                    raise DeliveryError(
                        "the SMTP user name or password has non-ASCII characters, "
                        "which smtplib cannot send",
                        channel_down=True,
                    ) from None
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _password(self) -> str:
        path = self.cfg.smtp_password_file
        if path is None:
            return ""
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise DeliveryError(
                f"cannot read the SMTP password file {path}: {exc.strerror}", True
            ) from None

    def message(self, notice: Notice) -> Message:
        """The e-mail: UTF-8, Vietnamese first, headers encoded word by word (RFC 2047).

        Built with the email package's compat32 classes: its modern policy drops
        the space where it folds a long encoded subject (Python 3.11), turning
        "Ngọc Hồi" into "NgọcHồi" in the reader's inbox.
        """
        cfg = self.cfg
        assert cfg.mail_from is not None
        sender = parseaddr(cfg.mail_from)
        domain = sender[1].rpartition("@")[2]
        msg = MIMEText(notice.body(), "plain", "utf-8")
        msg["Subject"] = Header(notice.subject(), "utf-8")
        msg["From"] = formataddr(sender, charset="utf-8")
        msg["To"] = ", ".join(formataddr(parseaddr(a), charset="utf-8") for a in cfg.mail_to)
        msg["Date"] = format_datetime(parse_utc(notice.at))
        # Stable ids: a retry after an unclear failure is the same message, and the
        # recovery notice is threaded under the alert it ends.
        msg["Message-ID"] = _message_id(notice, notice.event, domain)
        if notice.event != "opened":
            opened = _message_id(notice, "opened", domain)
            msg["In-Reply-To"] = opened
            msg["References"] = opened
        msg["Content-Language"] = "vi, en"
        msg["X-Roomhub-Alert"] = f"{notice.key} {notice.event}"
        return msg

    def _envelope(self) -> tuple[str, list[str]]:
        assert self.cfg.mail_from is not None
        return parseaddr(self.cfg.mail_from)[1], [parseaddr(a)[1] for a in self.cfg.mail_to]

    def send(self, notice: Notice) -> None:
        msg = self.message(notice)
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(msg, *self._envelope())
        except DeliveryError:
            raise
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                smtplib.SMTPDataError) as exc:  # fmt: skip
            # This message was refused; the connection itself still works.
            words = _smtp_words(exc)
            raise DeliveryError(f"the mail server refused the message: {words}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryError(f"SMTP failed: {_smtp_words(exc)}", channel_down=True) from None
        if refused:
            # Delivered to the others: a retry would send them a second copy.
            who = ", ".join(sorted(refused))
            raise DeliveredWithWarning(f"refused by the mail server for {who}")

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._drop()


def _message_id(notice: Notice, event: str, domain: str) -> str:
    return f"<roomhub.{notice.hub_id}.alert-{notice.alert_id}.{event}@{domain}>"


def _smtp_words(exc: BaseException) -> str:
    """What the server said, without smtplib's byte-string noise."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{who}: {code} {_text(msg)}" for who, (code, msg) in exc.recipients.items()]
        return "; ".join(parts)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def senders(cfg: AlertsConfig) -> list[Sender]:
    """One sender per webhook URL, and one for e-mail if a mail server is configured."""
    out: list[Sender] = [WebhookSender(u, cfg.webhook_timeout_s, cfg.tls_ca)
                         for u in cfg.webhook_urls]  # fmt: skip
    if cfg.smtp_host:
        out.append(MailSender(cfg))
    return out
