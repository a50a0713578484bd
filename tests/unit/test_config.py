"""The probe's TOML config: defaults, and errors that name the key, the value and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from roomprobe import config, tomlconfig
from roomprobe.tomlconfig import ConfigError

MINIMAL = 'site = "dak-ang"\n'


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        config.parse(text)
    assert exc.value.problems, "a ConfigError must list its problems"
    return exc.value.problems


# -- defaults -------------------------------------------------------------------------


def test_minimal_config_gets_the_documented_thresholds() -> None:
    t = config.parse(MINIMAL).thresholds
    assert t.download_mbps == 50.0
    assert t.upload_mbps == 50.0
    assert t.rtt_ms == 100.0
    assert t.jitter_ms == 30.0
    assert t.loss_pct == 1.0
    assert t.degraded_margin_pct == 20.0
    assert t.audio_min_level_dbfs == -40.0
    assert t.audio_max_thd_pct == 3.0
    assert t.audio_min_snr_db == 30.0


def test_minimal_config_gets_the_other_defaults() -> None:
    cfg = config.parse(MINIMAL)
    assert cfg.site == "dak-ang"
    assert cfg.name == ""
    assert cfg.mqtt.host == "localhost"
    assert cfg.mqtt.port == 1883
    assert cfg.mqtt.username is None
    assert cfg.mqtt.password_file is None
    assert cfg.mqtt.keepalive_s == 30
    assert cfg.mqtt.reconnect_min_s == 1.0
    assert cfg.mqtt.reconnect_max_s == 120.0
    assert cfg.mqtt.inflight == 20
    assert cfg.paths.state_dir == Path("/var/lib/roomprobe")
    assert cfg.daemon.heartbeat_s == 60.0
    assert cfg.net.backend == "simulated"
    assert cfg.net.interval_s == 3600.0  # hourly: a heavy test costs ~50 MB at 50 Mbps
    assert cfg.net.monitor_interval_s == 60.0
    assert cfg.audio.backend == "simulated"
    assert cfg.audio.interval_s == 1800.0
    assert cfg.simulation.profile == "good"
    assert cfg.simulation.seed is None
    assert cfg.simulated is True


def test_values_given_override_defaults_and_keep_the_rest() -> None:
    cfg = config.parse(
        'site = "ngoc-hoi-2"\nname = "Xã Đắk Ang"\n'
        '[mqtt]\nhost = "hub.example"\nport = 8883\nusername = "dak-ang"\n'
        'password_file = "/etc/roomprobe/password"\n'
        "[thresholds]\ndownload_mbps = 100\nloss_pct = 0.5\n"
        '[simulation]\nprofile = "slow-line"\nseed = 7\n'
    )
    assert cfg.site == "ngoc-hoi-2"
    assert cfg.name == "Xã Đắk Ang"
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.username) == ("hub.example", 8883, "dak-ang")
    assert cfg.mqtt.password_file == Path("/etc/roomprobe/password")
    assert cfg.thresholds.download_mbps == 100.0
    assert cfg.thresholds.loss_pct == 0.5
    assert cfg.thresholds.upload_mbps == 50.0
    assert cfg.mqtt.keepalive_s == 30
    assert (cfg.simulation.profile, cfg.simulation.seed) == ("slow-line", 7)


@pytest.mark.parametrize("profile", config.SIM_PROFILES)
def test_every_simulation_profile_is_accepted(profile: str) -> None:
    cfg = config.parse(
        f'{MINIMAL}[audio]\nbackend = "model"\n[simulation]\nprofile = "{profile}"\n'
    )
    assert cfg.simulation.profile == profile


def test_a_microphone_fault_needs_the_room_model() -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse(f'{MINIMAL}[simulation]\nprofile = "dead-mic"\n')
    assert 'needs audio.backend = "model"' in str(exc.value)


def test_config_is_frozen() -> None:
    cfg = config.parse(MINIMAL)
    with pytest.raises(ValidationError):
        cfg.site = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        cfg.mqtt.port = 1  # type: ignore[misc]


def test_equal_reconnect_bounds_are_allowed() -> None:
    cfg = config.parse(f"{MINIMAL}[mqtt]\nreconnect_min_s = 5\nreconnect_max_s = 5\n")
    assert cfg.mqtt.reconnect_min_s == cfg.mqtt.reconnect_max_s == 5.0


@pytest.mark.parametrize("port", [1, 1883, 65535])
def test_port_range_edges_are_accepted(port: int) -> None:
    assert config.parse(f"{MINIMAL}[mqtt]\nport = {port}\n").mqtt.port == port


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"{MINIMAL}[mqtt]\nport = 70000\n", ["mqtt.port", "70000", "less than or equal to 65535"]),
        (f"{MINIMAL}[mqtt]\nport = 0\n", ["mqtt.port", "= 0", "greater than or equal to 1"]),
        (f'{MINIMAL}[mqtt]\nport = "abc"\n', ["mqtt.port", "'abc'", "integer"]),
        (f"{MINIMAL}[mqtt]\nprot = 1883\n", ["mqtt.prot", "unknown key", "[section]"]),
        (f'{MINIMAL}sitee = "x"\n', ["sitee", "unknown key"]),
        (f"{MINIMAL}[mqt]\nport = 1883\n", ["mqt", "unknown key"]),
        (
            'site = "Đắk Ang"\n',
            ["site", "'Đắk Ang'", "lower-case ASCII letters, digits and hyphens", "dak-ang"],
        ),
        ('site = "-dak"\n', ["site", "'-dak'", "not starting or ending with a hyphen"]),
        ("site = 5\n", ["site", "5", "string"]),
        (f'{MINIMAL}[net]\nbackend = "x"\n', ["net.backend", "'x'", "'simulated'"]),
        (f'{MINIMAL}[audio]\nbackend = "jack"\n', ["audio.backend", "'jack'", "'alsa'"]),
        (
            f"{MINIMAL}[mqtt]\nreconnect_min_s = 10\nreconnect_max_s = 5\n",
            ["reconnect_max_s (5.0) must not be below reconnect_min_s (10.0)", "mqtt"],
        ),
        (f"{MINIMAL}[mqtt]\nreconnect_max_s = 0.5\n", ["reconnect_max_s (0.5)", "(1.0)"]),
        (
            f"{MINIMAL}[thresholds]\nloss_pct = 150\n",
            ["thresholds.loss_pct", "150", "less than or equal to 100"],
        ),
        (
            f"{MINIMAL}[thresholds]\ndownload_mbps = 0\n",
            ["thresholds.download_mbps", "= 0", "greater than 0"],
        ),
        (
            f"{MINIMAL}[thresholds]\naudio_min_level_dbfs = 3\n",
            ["thresholds.audio_min_level_dbfs", "3", "less than or equal to 0"],
        ),
        (
            f'{MINIMAL}[simulation]\nprofile = "noisy"\n',
            ["simulation.profile", "'noisy'", "'good'", "'slow-line'", "'flaky-lan'"],
        ),
        (
            f"{MINIMAL}[net]\ninterval_s = 0\n",
            ["net.interval_s", "= 0", "greater than or equal to 0.05"],
        ),
        (f'{MINIMAL}[mqtt]\nhost = ""\n', ["mqtt.host", "''", "at least 1 character"]),
        (f"{MINIMAL}mqtt = 5\n", ["mqtt", "5"]),
        ("", ["site", "required key is missing"]),
        ('name = "Xã Đắk Ang"\n', ["site", "required key is missing"]),
        ("site = \n", ["not valid TOML"]),
        ('site = "dak-ang"\n[mqtt\nport = 1\n', ["not valid TOML", "line 2"]),
        ('site = "dak-ang"\nsite = "x"\n', ["not valid TOML"]),
    ],
)
def test_error_names_the_key_the_value_and_the_rule(text: str, words: list[str]) -> None:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0], f"{word!r} not in {problems[0]!r}"


def test_every_problem_is_reported_at_once() -> None:
    text = (
        'site = "Đắk Ang"\n'
        "[mqtt]\nport = 70000\nprot = 1\n"
        '[net]\nbackend = "x"\n'
        "[thresholds]\nrtt = 100\n"
    )
    problems = problems_of(text)
    assert len(problems) == 5, problems
    joined = "\n".join(problems)
    for key in ("site", "mqtt.port", "mqtt.prot", "net.backend", "thresholds.rtt"):
        assert any(p.startswith(key) for p in problems), (key, joined)


def test_config_error_message_starts_with_the_source() -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse(f"{MINIMAL}[mqtt]\nport = 70000\nprot = 1\n", source="probe.toml")
    err = exc.value
    assert err.path == "probe.toml"
    assert str(err) == "probe.toml: " + "; ".join(err.problems)
    assert isinstance(err, ValueError)


def test_errors_do_not_chain_a_traceback() -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse("site = \n")
    assert exc.value.__cause__ is None
    assert exc.value.__suppress_context__


# -- files ----------------------------------------------------------------------------


def test_load_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "roomprobe.toml"
    path.write_text('site = "dak-ang"\nname = "Xã Đắk Ang"\n[mqtt]\nport = 8883\n', "utf-8")
    cfg = config.load(path)
    assert (cfg.site, cfg.name, cfg.mqtt.port) == ("dak-ang", "Xã Đắk Ang", 8883)
    assert config.load(str(path)) == cfg


def test_load_a_bad_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "roomprobe.toml"
    path.write_text(f"{MINIMAL}[mqtt]\nport = 70000\n", "utf-8")
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert exc.value.path == str(path)
    assert str(exc.value).startswith(f"{path}: mqtt.port = 70000")


def test_load_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "roomprobe.toml"
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert exc.value.problems == ["file not found"]
    assert exc.value.path == str(path)
    assert str(path) in str(exc.value)


def test_load_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        config.load(tmp_path)
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0].startswith("cannot read: ")


def test_load_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "roomprobe.toml"
    path.write_bytes(b'site = "dak-ang"\nname = "X\xe3"\n')  # Latin-1 "ã" at byte 26
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert exc.value.problems == ["not UTF-8 text (byte 26)"]


def test_load_invalid_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "roomprobe.toml"
    path.write_text('site = "dak-ang"\n[mqtt]\nport = = 1\n', "utf-8")
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert exc.value.problems[0].startswith("not valid TOML: ")
    assert "line 3" in exc.value.problems[0]


# -- tomlconfig with other models (the hub uses the same loader) ------------------------


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    weight: int = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    numbers: list[int] = []
    items: list[_Item] = []


def test_list_positions_are_named_with_brackets() -> None:
    with pytest.raises(ConfigError) as exc:
        tomlconfig.parse('numbers = [1, "two", 3]\n', _Model, "hub.toml")
    assert exc.value.problems == [
        "numbers[1] = 'two': Input should be a valid integer, unable to parse string as an integer"
    ]


def test_array_of_tables_problems_name_the_entry() -> None:
    text = '[[items]]\nid = "a"\n[[items]]\nweight = "x"\n[[items]]\nid = "c"\ncolour = 1\n'
    with pytest.raises(ConfigError) as exc:
        tomlconfig.parse(text, _Model)
    problems = exc.value.problems
    assert "items[1].id: required key is missing" in problems
    assert any(p.startswith("items[1].weight = 'x': ") for p in problems)
    assert "items[2].colour: unknown key (check its spelling and its [section])" in problems
    assert str(exc.value).startswith("<config>: ")


def test_top_level_problem_is_named() -> None:
    class _Strict(BaseModel):
        x: int

        def model_post_init(self, _: object) -> None:
            if self.x < 0:
                raise ValueError("x must be positive")

    # a plain value error on the model itself is reported at the top level
    with pytest.raises(ConfigError) as exc:
        tomlconfig.parse("x = -1\n", _Strict)
    assert exc.value.problems == ["(top level) = {'x': -1}: x must be positive"]
