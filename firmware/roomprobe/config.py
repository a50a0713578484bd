"""The probe's configuration: one TOML file, validated when loaded.

Every key has a default except the site id, so a config can be as short as
``site = "dak-ang"`` plus the broker address. Thresholds live here (one place)
with defaults from the district's requirement (50 Mbps each way) and from
published video-call requirements (Microsoft Teams: RTT < 100 ms,
jitter < 30 ms, loss < 1 %). The example file ``roomprobe.example.toml``
documents every key and is checked against this model by the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from . import tomlconfig
from .contract import topics

DEFAULT_PATH = Path("/etc/roomprobe/roomprobe.toml")


_Section = tomlconfig.Section


class MqttConfig(tomlconfig.BrokerConnection):
    reconnect_min_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(120.0, gt=0, le=3600)
    inflight: int = Field(
        20, ge=1, le=1000, description="Outbox messages sent but not yet acknowledged, at most"
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError(
                f"reconnect_max_s ({self.reconnect_max_s}) must not be below "
                f"reconnect_min_s ({self.reconnect_min_s})"
            )
        return self


class PathsConfig(_Section):
    state_dir: Path = Field(
        Path("/var/lib/roomprobe"),
        description="Writable folder for the outbox database and the last good config",
    )


class DaemonConfig(_Section):
    heartbeat_s: float = Field(60.0, ge=1, le=3600, description="How often status is re-sent")


class Thresholds(_Section):
    download_mbps: float = Field(50.0, gt=0, description="The district's line requirement")
    upload_mbps: float = Field(50.0, gt=0)
    rtt_ms: float = Field(100.0, gt=0, description="Teams: round trip under 100 ms")
    jitter_ms: float = Field(30.0, gt=0, description="Teams: jitter under 30 ms")
    loss_pct: float = Field(1.0, ge=0, le=100, description="Teams: loss under 1 % in any 15 s")
    degraded_margin_pct: float = Field(
        20.0,
        ge=0,
        le=100,
        description="A value this far past a limit is a fail; between the limit and it, degraded",
    )
    audio_min_level_dbfs: float = Field(
        -40.0, le=0, description="Test signal returned below this level: too quiet"
    )
    audio_max_thd_pct: float = Field(3.0, gt=0, le=100, description="Harmonic distortion limit")
    audio_min_snr_db: float = Field(30.0, ge=0, description="Signal-to-noise ratio limit")


class NetConfig(_Section):
    backend: Literal["simulated"] = Field(
        "simulated", description="Where line results come from; the real line probe comes later"
    )
    interval_s: float = Field(900.0, ge=0.05, le=86400, description="Seconds between line tests")
    server_url: str | None = Field(
        None, description="The hub's line-test endpoint, e.g. http://hub.example.org:8080/mini/"
    )
    monitor_interval_s: float = Field(
        60.0, ge=0.05, le=3600, description="Seconds per summary of the light continuous probes"
    )


class AudioConfig(_Section):
    backend: Literal["simulated"] = Field(
        "simulated", description="Where audio results come from; the real audio probe comes later"
    )
    interval_s: float = Field(1800.0, ge=0.05, le=86400, description="Seconds between audio tests")


SIM_PROFILES = ("good", "slow-line", "flaky-lan", "broken-speaker")


class SimulationConfig(_Section):
    profile: Literal["good", "slow-line", "flaky-lan", "broken-speaker"] = Field(
        "good", description="Which room the simulated backends pretend to be"
    )
    seed: int | None = Field(None, description="Random seed; None draws one from the site id")


class ProbeConfig(_Section):
    site: str = Field(description="This room's site id, as provisioned on the hub")
    name: str = Field("", max_length=200, description="The room's name for people")
    mqtt: MqttConfig = MqttConfig()
    paths: PathsConfig = PathsConfig()
    daemon: DaemonConfig = DaemonConfig()
    thresholds: Thresholds = Thresholds()
    net: NetConfig = NetConfig()
    audio: AudioConfig = AudioConfig()
    simulation: SimulationConfig = SimulationConfig()

    _site_id = field_validator("site")(lambda v: topics.check_site_id(v))

    @property
    def simulated(self) -> bool:
        return self.net.backend == "simulated" or self.audio.backend == "simulated"


def load(path: Path | str) -> ProbeConfig:
    """Load and validate; raise :class:`tomlconfig.ConfigError` listing every problem."""
    return tomlconfig.load(path, ProbeConfig)


def parse(text: str, source: str = "<config>") -> ProbeConfig:
    return tomlconfig.parse(text, ProbeConfig, source)
