"""Loading a TOML file into a pydantic model, with errors a person can act on.

Probe and hub configs both go through :func:`load`: every problem names the
key, the value found and what is expected, and nothing raises a traceback for
a user's mistake. pydantic does the validation (types, ranges, unknown keys);
this module only turns its errors into sentences.
"""

from __future__ import annotations

import json
import ssl
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config that cannot be used. ``problems`` holds one line per problem."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def check_host(value: str) -> str:
    """A host name or address a socket can be asked to resolve (IDNA-encodable)."""
    try:
        value.encode("idna")
    except UnicodeError:
        raise ValueError("expected a host name such as hub.example.org or an IP address") from None
    if any(c.isspace() for c in value):
        raise ValueError("a host name cannot contain spaces")
    return value


class Section(BaseModel):
    """A config table: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerConnection(Section):
    """How to reach the broker: the part probe and hub configs share."""

    host: str = Field("localhost", min_length=1, description="The broker's host name")
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = Field(None, description="Broker account; None for an open test broker")
    password_file: Path | None = Field(
        None, description="File holding the broker password (kept out of the config itself)"
    )
    keepalive_s: int = Field(30, ge=5, le=3600)
    tls_ca: Path | None = Field(
        None,
        description="The district CA's certificate: set, the connection is TLS and the broker "
        "must prove itself with a certificate that CA signed; None for a plain test broker",
    )

    _host = field_validator("host")(lambda v: check_host(v))

    def tls_context(self) -> ssl.SSLContext | None:
        """TLS 1.2+ verifying the broker against ``tls_ca`` (and its host name); None if unset.

        Raises OSError when the CA file cannot be read, which callers report and retry.
        """
        if self.tls_ca is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.tls_ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


def report(exc: ConfigError, program: str) -> str:
    """The lines a command prints for a config it cannot use."""
    lines = [f"{program}: tệp cấu hình {exc.path} có lỗi / configuration {exc.path} is not valid:"]
    lines += [f"  - {problem}" for problem in exc.problems]
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)  # JSON's escapes are TOML's
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps(doc: dict[str, Any]) -> str:
    """Write a config: top-level keys, [tables] of values and [[arrays]] of such tables.

    ``None`` means "leave the key out" (its default applies), as the configs have no null.
    Enough for the configs this project writes (the demo, tests, benchmarks); read
    them back with :func:`parse`.
    """
    lines = [f"{k} = {_toml_value(v)}" for k, v in doc.items()
             if v is not None and not isinstance(v, dict | list)]  # fmt: skip
    for name, value in doc.items():
        tables = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
        for table in tables:
            lines.append(f"\n[{name}]" if isinstance(value, dict) else f"\n[[{name}]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    key = _key(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (check its spelling and its [section])"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    value = error.get("input")
    expected = error["msg"]
    if expected.startswith("Value error, "):
        expected = expected[len("Value error, ") :]
    return f"{key} = {value!r}: {expected}"


def problems_of(exc: ValidationError) -> list[str]:
    return [_describe(e) for e in exc.errors(include_url=False)]


def parse(text: str, model: type[M], source: Path | str = "<config>") -> M:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, problems_of(exc)) from None


def load(path: Path | str, model: type[M]) -> M:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except (PermissionError, IsADirectoryError) as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"not UTF-8 text (byte {exc.start})"]) from None
    return parse(text, model, path)
