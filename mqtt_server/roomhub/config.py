"""The hub's configuration: one TOML file, validated the same way as the probe's.

The hub's name and its sites are configuration, not code: the owner may be a
district office or, since the 2025 reform, a province (shared/GLOSSARY.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from roomprobe import tomlconfig
from roomprobe.config import DaemonConfig
from roomprobe.contract import topics

DEFAULT_PATH = Path("/etc/roomhub/roomhub.toml")


_Section = tomlconfig.Section


class MqttConfig(tomlconfig.BrokerConnection):
    session_expiry_s: int = Field(
        7 * 24 * 3600,
        ge=60,
        description="How long the broker keeps queueing for a hub that is down",
    )


class StorageConfig(_Section):
    path: Path = Field(Path("/var/lib/roomhub/roomhub.sqlite"), description="SQLite database")
    url: str | None = Field(
        None,
        description="A PostgreSQL URL (postgresql://user:password@host/db) instead of the SQLite "
        "file; any driver named in it is replaced by psycopg",
    )
    retention_days: float = Field(
        800, ge=0,
        description="Messages older than this are deleted (0 keeps all); the default keeps "
        "two years for the monthly reports' year-on-year figures",
    )  # fmt: skip
    quarantine_retention_days: float = Field(
        30, ge=0, description="Quarantined messages older than this are deleted (0 keeps all)"
    )

    @field_validator("url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from .database import DatabaseUrlError, open_engine

        try:
            open_engine(value).dispose()  # parses and picks the driver; does not connect
        except DatabaseUrlError as exc:
            raise ValueError(str(exc)) from None
        return value


class WebConfig(_Section):
    host: str = Field("127.0.0.1", description="Address the dashboard listens on")
    port: int = Field(8080, ge=1, le=65535)
    timezone: str = Field(
        "Asia/Ho_Chi_Minh", description="Times on the dashboard are shown in this zone"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone name such as Asia/Ho_Chi_Minh") from None
        return value


class LineConfig(_Section):
    udp_echo_port: int = Field(
        8082, ge=0, le=65535,
        description="UDP echo for the probes' light probes, on the web host; 0 turns it off",
    )  # fmt: skip
    # The district's line requirement, as the hub judges it (charts, alerts, reports).
    # The probes judge with their own [thresholds]; the two are set to the same figure.
    target_download_mbps: float = Field(50.0, gt=0, description="Required download speed")
    target_upload_mbps: float = Field(50.0, gt=0, description="Required upload speed")


class ConsumerConfig(_Section):
    max_payload_bytes: int = Field(
        65536,
        ge=1024,
        le=1048576,
        description="Larger payloads are quarantined (the broker's hard limit is 1 MiB)",
    )
    store_retry_s: float = Field(
        10.0,
        ge=0,
        le=300,
        description="How long to retry a failing commit before the broker gets the message back",
    )
    batch_max: int = Field(
        500, ge=1, le=10000, description="Most messages committed in one transaction"
    )
    receive_maximum: int = Field(
        1000, ge=1, le=65535,
        description="Unacknowledged messages the broker may have in flight to this consumer",
    )  # fmt: skip
    shared_group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Share the load with other hubs through $share/<group>/...; each needs "
        "its own consumer name",
    )
    name: str = Field(
        "", pattern=r"^[A-Za-z0-9_-]{0,32}$",
        description="Appended to the MQTT client id: each consumer of a shared group needs one",
    )  # fmt: skip


class SiteEntry(_Section):
    id: str
    name: str = Field(min_length=1, max_length=200)

    _check_id = field_validator("id")(lambda v: topics.check_site_id(v))


class SecurityConfig(_Section):
    """Where the district's CA, the broker's accounts and ACL, and the sites' bundles live."""

    dir: Path = Field(
        Path("/etc/roomhub/security"),
        description="CA and broker certificate, mosquitto's password and ACL files, bundles/",
    )
    broker_host: str = Field(
        "localhost", min_length=1,
        description="The name probes use to reach the broker (its certificate carries it)",
    )  # fmt: skip
    broker_port: int = Field(8883, ge=1, le=65535, description="The broker's TLS port")
    broker_pid_file: Path | None = Field(
        None,
        description="mosquitto's pid file: signalled to re-read accounts and ACL after a change; "
        "None runs 'systemctl reload mosquitto'",
    )
    line_url: str | None = Field(
        None,
        description="The hub's line-test endpoint as the probes reach it, written into each "
        "site's bundle; None: http://<broker_host>:<web port>/mini/",
    )

    def probe_line_url(self, web_port: int) -> str:
        return self.line_url or f"http://{self.broker_host}:{web_port}/mini/"


def _check_url(value: str) -> str:
    """An http(s) URL with a host: where a webhook is POSTed."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not host
        or any(c.isspace() for c in value)
    ):
        raise ValueError(
            "expected an http:// or https:// URL such as https://chat.example.org/hooks/roomhub"
        )
    return value


def _check_address(value: str) -> str:
    """One e-mail address, optionally with a name: 'it@example.org' or 'IT <it@example.org>'."""
    from email.utils import parseaddr

    if any(c in value for c in "\r\n,;"):
        raise ValueError("expected one e-mail address per item (no commas, no line breaks)")
    addr = parseaddr(value)[1]
    local, at, domain = addr.rpartition("@")
    plain = addr.isascii() and not any(c.isspace() for c in addr)
    if not (at and local and domain and plain) or "@" in local or domain.strip(".") != domain:
        raise ValueError("expected an e-mail address such as it@ngoc-hoi.example")
    return value


_Url = Annotated[str, AfterValidator(_check_url)]
_Address = Annotated[str, AfterValidator(_check_address)]


class AlertsConfig(_Section):
    """Alerts: what is watched, the thresholds, and where the notices go (webhook, e-mail)."""

    enabled: bool = Field(True, description="Watch the rooms and send alerts")
    interval_s: float = Field(
        30.0, ge=1, le=3600, description="Seconds between two rounds of the alert watcher"
    )
    offline_after_s: float = Field(
        180.0, ge=10, le=7 * 24 * 3600,
        description="A site the hub has not heard from for this long is offline (3 x the "
        "probes' default heartbeat of 60 s); the probe's Last Will makes it offline at once",
    )  # fmt: skip
    line_bad_tests: int = Field(
        3, ge=1, le=100,
        description="The line alert opens when this many measured line tests in a row fall "
        "short of [line] target_download_mbps / target_upload_mbps (or their verdict is fail)",
    )  # fmt: skip
    meeting_lead_min: float = Field(
        30.0, ge=0, le=24 * 60,
        description="A room not ready this many minutes before a scheduled meeting is an alert",
    )  # fmt: skip
    webhook_urls: list[_Url] = Field(
        default_factory=list, description="Each notice is POSTed as JSON to every URL here"
    )
    webhook_timeout_s: float = Field(10.0, gt=0, le=120)
    smtp_host: str | None = Field(None, description="The mail server; None sends no e-mail")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls (submission, port 587), tls (implicit TLS, port 465) or none",
    )
    smtp_username: str | None = Field(None, min_length=1, description="Login; None: no login")
    smtp_password_file: Path | None = Field(
        None, description="File holding the SMTP password (kept out of the config itself)"
    )
    smtp_timeout_s: float = Field(20.0, gt=0, le=300)
    mail_from: _Address | None = Field(
        None, validate_default=True, description="The sender of alert e-mails"
    )
    mail_to: list[_Address] = Field(
        default_factory=list, validate_default=True, description="Who receives the alert e-mails"
    )
    tls_ca: Path | None = Field(
        None,
        description="A CA certificate to trust besides the system's, for the mail server "
        "and https webhooks (e.g. the district's own CA)",
    )
    dashboard_url: _Url | None = Field(
        None, description="The dashboard's address, given in every notice"
    )
    max_attempts: int = Field(
        5, ge=1, le=100, description="Attempts per notice and channel before it is given up"
    )
    retry_after_s: float = Field(
        60.0, ge=0, le=24 * 3600,
        description="Wait before the first retry of a failed notice; doubles after each failure",
    )  # fmt: skip

    _smtp_host = field_validator("smtp_host")(
        lambda v: tomlconfig.check_host(v) if v is not None else v
    )

    @field_validator("smtp_password_file", mode="after")
    @classmethod
    def _password_needs_user(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not info.data.get("smtp_username"):
            raise ValueError("a password file needs smtp_username as well")
        return value

    @field_validator("mail_from", mode="after")
    @classmethod
    def _sender_with_host(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("smtp_host") and value is None:
            raise ValueError("required when smtp_host is set (the sender of alert e-mails)")
        return value

    @field_validator("mail_to", mode="after")
    @classmethod
    def _recipients_with_host(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if "smtp_host" not in info.data:
            return value  # smtp_host itself is wrong: that error is the one to read
        if info.data["smtp_host"] and not value:
            raise ValueError("at least one recipient is required when smtp_host is set")
        if not info.data["smtp_host"] and value:
            raise ValueError("set smtp_host too: without a mail server no e-mail is sent")
        return value


_PROBE_DAEMON = DaemonConfig()


class MeetingsConfig(_Section):
    """Meeting readiness, as the district runs it: one setting for the hub and its probes.

    ``roomhub site add`` writes ``readiness_lead_s`` into each new probe's config, so
    the boxes test at the times the readiness board expects their answers.
    """

    readiness_lead_s: list[Annotated[float, Field(gt=0, le=86400)]] = Field(
        _PROBE_DAEMON.readiness_lead_s, min_length=1, max_length=8,
        description="Each probe runs a full readiness test this many seconds before each of "
        "its meetings; from the first (the largest) on, a room with no answer shows unknown",
    )  # fmt: skip
    meeting_guard_s: float = Field(
        _PROBE_DAEMON.meeting_guard_s, ge=0, le=7200,
        description="The probes' quiet window before and after each meeting (no active test)",
    )  # fmt: skip
    readiness_max_s: float = Field(
        _PROBE_DAEMON.readiness_max_s, ge=10, le=3600,
        description="A probe's run publishes what it has after this long; until then the "
        "board says 'checking', after it 'no check' (and alerts)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _as_a_probe_would(self) -> MeetingsConfig:
        # The probe's own rule (each lead before the quiet window), so a bundle never fails.
        DaemonConfig(**self.probe_settings())
        return self

    @property
    def first_lead_s(self) -> float:
        return max(self.readiness_lead_s)

    def probe_settings(self) -> dict[str, Any]:
        return {"readiness_lead_s": list(self.readiness_lead_s),
                "meeting_guard_s": self.meeting_guard_s,
                "readiness_max_s": self.readiness_max_s}  # fmt: skip


class HubConfig(_Section):
    hub_id: str = Field(
        description="The hub's own id: its MQTT client id and the site of its messages"
    )
    name: str = Field("", max_length=200, description="The owner's name, shown on the dashboard")
    mqtt: MqttConfig = MqttConfig()
    storage: StorageConfig = StorageConfig()
    web: WebConfig = WebConfig()
    consumer: ConsumerConfig = ConsumerConfig()
    line: LineConfig = LineConfig()
    security: SecurityConfig = SecurityConfig()
    alerts: AlertsConfig = AlertsConfig()
    meetings: MeetingsConfig = MeetingsConfig()
    sites: list[SiteEntry] = Field(default_factory=list, description="Known sites and their names")

    _check_hub_id = field_validator("hub_id")(lambda v: topics.check_site_id(v))

    @field_validator("sites")
    @classmethod
    def _unique_sites(cls, sites: list[SiteEntry]) -> list[SiteEntry]:
        seen: set[str] = set()
        for entry in sites:
            if entry.id in seen:
                raise ValueError(f"site {entry.id!r} is listed twice")
            seen.add(entry.id)
        return sites


def load(path: Path | str) -> HubConfig:
    return tomlconfig.load(path, HubConfig)


def parse(text: str, source: str = "<config>") -> HubConfig:
    return tomlconfig.parse(text, HubConfig, source)
