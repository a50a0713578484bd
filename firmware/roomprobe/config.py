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
from typing import Annotated, Literal

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
    meeting_guard_s: float = Field(
        600.0, ge=0, le=7200,
        description="No active test this long before a scheduled meeting starts or after it ends",
    )  # fmt: skip
    trust_unsynced_clock: bool = Field(
        False,
        description="Schedule rules use the clock even before it is synchronised: for a box "
        "with a battery-backed real-time clock (hardware/README.md), and for test benches",
    )
    readiness_lead_s: list[Annotated[float, Field(gt=0, le=86400)]] = Field(
        [3600.0, 1200.0], min_length=1, max_length=8,
        description="A full readiness test runs this many seconds before each scheduled "
        "meeting, once per value (each more than meeting_guard_s)",
    )  # fmt: skip
    readiness_max_s: float = Field(
        900.0, ge=10, le=3600,
        description="A readiness run publishes what it has after this long (a test that has "
        "not finished counts as not tested)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _leads_before_the_quiet_window(self) -> DaemonConfig:
        for lead in self.readiness_lead_s:
            if lead <= self.meeting_guard_s:
                guard = self.meeting_guard_s
                raise ValueError(f"readiness_lead_s: {lead:g} is inside the quiet window "
                                 f"before a meeting (meeting_guard_s = {guard:g})")  # fmt: skip
        return self


class OutboxConfig(_Section):
    max_mb: float = Field(
        64.0, ge=0.01, le=100000,
        description="Bound on the results waiting in the outbox (MB of payload). A broker "
        "outage longer than this holds drops the oldest first, counted and reported to the "
        "hub; 64 MB held about two months of the simulated default schedule (docs/reliability.md)",
    )  # fmt: skip

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1_000_000)


class Thresholds(_Section):
    download_mbps: float = Field(50.0, gt=0, description="The district's line requirement")
    upload_mbps: float = Field(50.0, gt=0)
    rtt_ms: float = Field(100.0, gt=0, description="Teams: round trip under 100 ms")
    jitter_ms: float = Field(30.0, gt=0, description="Teams: jitter under 30 ms")
    loss_pct: float = Field(1.0, ge=0, le=100, description="Teams: loss under 1 % in any 15 s")
    mos_min: float = Field(
        3.6, ge=1, le=4.5,
        description="Call quality (MOS) below this is degraded; ITU-T G.107 puts 'some users "
        "dissatisfied' at 3.6",
    )  # fmt: skip
    degraded_margin_pct: float = Field(
        20.0,
        ge=0,
        le=100,
        description="A value this far past a limit is a fail; between the limit and it, degraded",
    )
    probe_cpu_limit_pct: float = Field(
        90.0, gt=0, description="The probe's CPU above this during a line test: the probe limits"
    )
    audio_min_level_dbfs: float = Field(
        -40.0, le=0, description="Test signal returned below this level: too quiet"
    )
    audio_max_thd_pct: float = Field(3.0, gt=0, le=100, description="Harmonic distortion limit")
    audio_min_snr_db: float = Field(30.0, ge=0, description="Signal-to-noise ratio limit")
    audio_max_gain_change_db: float = Field(
        6.0, gt=0, le=40,
        description="A path's gain this far from the commissioned reference: someone turned a "
        "knob (mixer for the electrical path, amplifier for the acoustic one)",
    )  # fmt: skip
    audio_max_response_dev_db: float = Field(
        6.0, gt=0, le=40,
        description="A 1/3-octave band this far from the reference's shape: a damaged speaker",
    )  # fmt: skip
    audio_max_latency_change_ms: float = Field(
        2.0, gt=0, le=1000, description="The mixer's latency this far from the reference"
    )
    audio_speaker_drop_db: float = Field(
        4.0, gt=0, le=60,
        description="A loudspeaker's direct sound this much weaker against the others than "
        "commissioned: it is silent (the others' reverberation fills its place, so a dead "
        "speaker's arrival drops only 5-10 dB)",
    )  # fmt: skip
    audio_mic_noise_min_dbfs: float = Field(
        -85.0, le=0,
        description="Without a reference: a return quieter than this in silence has no live "
        "microphone on it (only the mixer's own noise)",
    )  # fmt: skip
    audio_mic_noise_drop_db: float = Field(
        10.0, gt=0, le=60,
        description="With a reference: the return's quiet level this far below commissioning "
        "means the microphones went dead",
    )  # fmt: skip
    audio_max_dropouts: int = Field(
        0, ge=0, description="Capture gaps (USB) tolerated in one watch period or test"
    )


class NetConfig(_Section):
    backend: Literal["simulated", "hub"] = Field(
        "simulated",
        description="Where line results come from: 'hub' measures the real line against the "
        "hub's endpoint (server_url); 'simulated' makes them up (demo, tests)",
    )
    server_url: str | None = Field(
        None, description="The hub's line-test endpoint, e.g. http://hub.example.org:8080/mini/"
    )
    interval_s: float = Field(
        3600.0, ge=0.05, le=86400,
        description="Mean seconds between heavy line tests (randomised: exponential, clamped to "
        "half and twice this)",
    )  # fmt: skip
    streams: int = Field(4, ge=1, le=16, description="Parallel streams of the project's test")
    speedtest_cli: Literal["off", "hub", "speedtest.net"] = Field(
        "speedtest.net",
        description="Where speedtest-cli's comparison run goes: speedtest.net servers (a real "
        "line), the hub's endpoint, or off",
    )
    speedtest_server_id: int | None = Field(
        None, description="A speedtest.net server id; None lets speedtest-cli pick the nearest"
    )
    speedtest_cli_interval_s: float = Field(
        86400.0, ge=0, le=30 * 86400,
        description="At most one speedtest-cli comparison per this many seconds (it costs about "
        "twice the project's test)",
    )  # fmt: skip
    interface: str | None = Field(
        None, description="The interface the line is on; None uses the default route's"
    )
    busy_threshold_kbps: float = Field(
        1000.0, ge=0,
        description="Traffic on the interface above this means people use the line: defer",
    )  # fmt: skip
    busy_retry_s: float = Field(120.0, ge=0.05, le=3600, description="Retry a deferred test after")
    daily_budget_mb: float = Field(2000.0, ge=0, description="Heavy-test data per day (MB)")
    monthly_budget_mb: float = Field(40000.0, ge=0, description="Heavy-test data per month (MB)")
    monitor_interval_s: float = Field(
        60.0, ge=0.05, le=3600, description="Seconds per summary of the light continuous probes"
    )
    probe_interval_s: float = Field(
        1.0, ge=0.05, le=60, description="Seconds between light probes to each target"
    )
    hub_echo_port: int = Field(8082, ge=1, le=65535, description="The hub's UDP echo port")
    gateway: str | None = Field(
        None, description="The room's LAN gateway; None uses the default route's"
    )
    resolver: str | None = Field(
        "1.1.1.1", description="A public resolver to probe (ICMP); None to skip"
    )
    dns_name: str | None = Field(
        "www.google.com", description="A name to resolve for the DNS time; None to skip"
    )

    @model_validator(mode="after")
    def _hub_needs_a_url(self) -> NetConfig:
        if self.backend == "hub" and not self.server_url:
            raise ValueError("backend 'hub' needs server_url (the hub's /mini/ endpoint)")
        return self


class AudioConfig(_Section):
    backend: Literal["simulated", "alsa", "model"] = Field(
        "simulated",
        description="'alsa' measures the room through the USB audio interface (pyalsaaudio); "
        "'model' runs the real analysis on the simulated room of simulation.profile (demo); "
        "'simulated' draws results (fast, for tests)",
    )
    interval_s: float = Field(1800.0, ge=0.05, le=86400, description="Seconds between audio tests")
    capture_device: str = Field(
        "default", min_length=1, description="ALSA capture device, e.g. 'hw:CARD=Device' or 'pulse'"
    )
    playback_device: str = Field("default", min_length=1, description="ALSA playback device")
    rate: int = Field(48000, ge=8000, le=192000, description="Sample rate of both directions")
    period_frames: int = Field(
        1024, ge=64, le=16384,
        description="Frames per ALSA period (pyalsaaudio's default of 32 is below most devices' "
        "minimum); also the passive watch's and the safety guard's step",
    )  # fmt: skip
    periods: int = Field(4, ge=2, le=64, description="Periods in the ALSA buffer")
    sweep_s: float = Field(
        6.0, ge=1.0, le=8.0,
        description="Length of the test sweep (up to 8 s keeps the analysis's transforms at "
        "2^20 points: ~85 MB at the peak)",
    )  # fmt: skip
    sweep_f1_hz: float = Field(40.0, ge=10.0, le=500.0, description="Sweep start frequency")
    sweep_f2_hz: float = Field(16000.0, ge=4000.0, le=24000.0, description="Sweep end frequency")
    level_dbfs: float = Field(
        -24.0, ge=-60.0, le=-6.0,
        description="Peak level of the test tone: conservative, so a mistaken test is no shock",
    )  # fmt: skip
    ramp_s: float = Field(0.2, ge=0.01, le=2.0, description="Fade in and out of the test tone")
    pre_silence_s: float = Field(
        1.0, ge=0.2, le=1.5, description="Silence recorded before the sweep: the noise floor"
    )
    tail_s: float = Field(1.5, ge=0.3, le=2.5, description="Recording after the sweep: the decay")
    mains_hz: Literal[50, 60] = Field(50, description="Mains frequency, for hum detection")
    quiet_before_s: float = Field(
        30.0, ge=0, le=3600, description="The room must have been quiet this long before a test"
    )


#: BCM GPIO numbers on the Pi's 40-pin header (the same on the 3B+, 4B and Zero 2 W).
GPIO_PINS = range(2, 28)
Pins3 = tuple[int, int, int]


class HardwareConfig(_Section):
    """The indicators and the button: which GPIO pins (BCM numbers), and whether to drive them.

    The defaults leave GPIO 2/3 (I2C: the optional real-time clock), 14/15
    (the serial console) and 18-21 (I2S, should a sound HAT replace the USB
    interface) free. hardware/README.md's pin table is generated
    from these defaults.
    """

    leds: Literal["none", "gpio", "mock"] = Field(
        "none",
        description="'gpio' drives the LEDs and reads the button on a Pi; 'mock' on gpiozero's "
        "MockFactory (a machine without GPIO: the demo); 'none' has no indicators",
    )
    meeting_pins: Pins3 = Field(
        (16, 12, 4), description="Meeting light (ready for the coming meeting): red, green, blue"
    )
    network_pins: Pins3 = Field((17, 27, 22), description="Network light: red, green, blue")
    audio_pins: Pins3 = Field((23, 24, 25), description="Audio light: red, green, blue")
    system_pins: Pins3 = Field((5, 6, 13), description="System light: red, green, blue")
    button_pin: int = Field(26, description="Test button, to ground (internal pull-up)")
    hold_s: float = Field(
        3.0, ge=1.0, le=10.0, description="Holding the button this long toggles meeting mode"
    )

    @model_validator(mode="after")
    def _pins_exist_once(self) -> HardwareConfig:
        uses: dict[int, str] = {}
        wanted = [
            *((p, f"meeting_pins[{i}]") for i, p in enumerate(self.meeting_pins)),
            *((p, f"network_pins[{i}]") for i, p in enumerate(self.network_pins)),
            *((p, f"audio_pins[{i}]") for i, p in enumerate(self.audio_pins)),
            *((p, f"system_pins[{i}]") for i, p in enumerate(self.system_pins)),
            (self.button_pin, "button_pin"),
        ]
        for pin, name in wanted:
            if pin not in GPIO_PINS:
                raise ValueError(f"{name} = {pin}: not a GPIO pin of the header (2-27)")
            if pin in uses:
                raise ValueError(f"{name} = {pin}: already used by {uses[pin]}")
            uses[pin] = name
        return self

    def pins(self) -> dict[str, Pins3]:
        return {"meeting": self.meeting_pins, "network": self.network_pins,
                "audio": self.audio_pins, "system": self.system_pins}  # fmt: skip


SIM_PROFILES = ("good", "slow-line", "flaky-lan", "broken-speaker", "dead-mic")
#: Faults only the room model (audio.backend = "model") can show: the simple simulated
#: backend measures the return signal, which a dead microphone does not change.
MODEL_ONLY_PROFILES = ("dead-mic",)


class SimulationConfig(_Section):
    profile: Literal[SIM_PROFILES] = Field(  # type: ignore[valid-type]
        "good", description="Which room the simulated backends pretend to be"
    )
    seed: int | None = Field(None, description="Random seed; None draws one from the site id")


class ProbeConfig(_Section):
    site: str = Field(description="This room's site id, as provisioned on the hub")
    name: str = Field("", max_length=200, description="The room's name for people")
    mqtt: MqttConfig = MqttConfig()
    paths: PathsConfig = PathsConfig()
    outbox: OutboxConfig = OutboxConfig()
    daemon: DaemonConfig = DaemonConfig()
    thresholds: Thresholds = Thresholds()
    net: NetConfig = NetConfig()
    audio: AudioConfig = AudioConfig()
    hardware: HardwareConfig = HardwareConfig()
    simulation: SimulationConfig = SimulationConfig()

    _site_id = field_validator("site")(lambda v: topics.check_site_id(v))

    @model_validator(mode="after")
    def _profile_the_backend_can_show(self) -> ProbeConfig:
        profile = self.simulation.profile
        if profile in MODEL_ONLY_PROFILES and self.audio.backend == "simulated":
            raise ValueError(f'simulation.profile = "{profile}" needs audio.backend = "model": '
                             "only the room model has microphones to go dead")  # fmt: skip
        return self

    @property
    def simulated(self) -> bool:
        return self.net.backend == "simulated" or self.audio.backend in ("simulated", "model")


def load(path: Path | str) -> ProbeConfig:
    """Load and validate; raise :class:`tomlconfig.ConfigError` listing every problem."""
    return tomlconfig.load(path, ProbeConfig)


def parse(text: str, source: str = "<config>") -> ProbeConfig:
    return tomlconfig.parse(text, ProbeConfig, source)
