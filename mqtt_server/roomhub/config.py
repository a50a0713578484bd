"""The hub's configuration: one TOML file, validated the same way as the probe's.

The hub's name and its sites are configuration, not code: the owner may be a
district office or, since the 2025 reform, a province (shared/GLOSSARY.md).
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from roomprobe import tomlconfig
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
