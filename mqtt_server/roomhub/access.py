"""Who may do what on the broker: one account per probe, the hub's account, and the ACL.

A probe's account name is its site id, so the ACL's ``pattern`` lines (``%u``
is the user name) confine every probe to its own branch of the topic tree:
it publishes only its own status, results, events and command replies, and
reads only its own commands and the district's schedule. The hub's account
reads everything probes send and writes commands and the schedule. The ACL
is rendered from the contract's topic tree (``roomprobe.contract.topics``),
so a topic added there is covered here, and a test checks the two agree.

Passwords are hashed by mosquitto's own ``mosquitto_passwd`` (fed on stdin,
so no password appears in a process list), never stored or logged in clear.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from roomprobe.contract import topics

HUB_USER = "roomhub"
#: Account names a site may not take: they belong to the hub side.
RESERVED = frozenset({HUB_USER, "admin", "root"})


class AccessError(RuntimeError):
    """An account could not be written."""


def _acl_topic(pattern: str, who: str) -> str:
    """A contract topic pattern as an ACL topic: ``<site>`` -> %u or +, ``<command>`` -> +."""
    return pattern.replace("<site>", who).replace("<command>", "+")


def render_acl(hub_user: str = HUB_USER) -> str:
    lines = [
        "# mosquitto ACL of a roomprobe hub, rendered by roomhub.access from the contract's",
        "# topic tree. Do not edit by hand: `roomhub broker-config` writes it again.",
        "",
        "# Every account (probes included) may read the district's schedule. A `pattern`",
        "# line, because `topic` lines before the first `user` apply to anonymous clients only.",
    ]
    for schema, pattern in topics.TOPIC_PATTERNS.items():
        if "<site>" not in pattern and schema in topics.FROM_HUB:
            lines.append(f"pattern read {pattern}")
    lines += ["", "# Each probe, by its site id (%u): its own branch and nothing else."]
    for schema, pattern in topics.TOPIC_PATTERNS.items():
        if "<site>" not in pattern:
            continue
        access = "read" if schema in topics.FROM_HUB else "write"
        lines.append(f"pattern {access} {_acl_topic(pattern, '%u')}")
    lines += ["", f"user {hub_user}"]
    for schema, pattern in topics.TOPIC_PATTERNS.items():
        access = "write" if schema in topics.FROM_HUB else "read"
        lines.append(f"topic {access} {_acl_topic(pattern, '+')}")
    return "\n".join(lines) + "\n"


def check_account(name: str) -> str:
    if name in RESERVED:
        raise AccessError(f"{name!r} is reserved for the hub side; choose another site id")
    if name != HUB_USER and not topics.is_site_id(name):
        raise AccessError(f"{name!r} is not a site id (2-63 lower-case letters, digits, hyphens)")
    return name


def _passwd_exe() -> str:
    exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(exe).exists():
        raise AccessError("mosquitto_passwd is missing (Debian: apt-get install mosquitto)")
    return exe


def set_password(password_file: Path, user: str, password: str) -> None:
    """Add or replace ``user`` in mosquitto's password file (hashed by mosquitto_passwd)."""
    if user != HUB_USER:
        check_account(user)
    if not password or "\n" in password:
        raise AccessError("a password must be one non-empty line")
    exe = _passwd_exe()
    password_file.parent.mkdir(parents=True, exist_ok=True)
    if not password_file.exists():
        password_file.touch(mode=0o600)
    done = subprocess.run(
        [exe, str(password_file), user],
        input=f"{password}\n{password}\n", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if done.returncode != 0:  # its messages never contain the password
        raise AccessError(f"mosquitto_passwd failed for {user}: {done.stderr.strip()}")


def remove_account(password_file: Path, user: str) -> None:
    exe = _passwd_exe()
    done = subprocess.run([exe, "-D", str(password_file), user], capture_output=True, text=True,
                          timeout=30)  # fmt: skip
    if done.returncode != 0:
        raise AccessError(f"mosquitto_passwd could not remove {user}: {done.stderr.strip()}")
