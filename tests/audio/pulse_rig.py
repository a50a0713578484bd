"""A private PulseAudio server with one null sink: the real ALSA path without a sound card.

pyalsaaudio opens ALSA's ``pulse`` device (libasound2-plugins); the plugin
talks to the server named by ``PULSE_SERVER``. The null sink ``room`` plays
in real time and its monitor source gives back what was played: a stereo
wire from the probe's outputs to its inputs. Each test session gets its own
server on a socket in a temporary folder, so nothing touches a desktop's
sound or another session's, and the server is killed in teardown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

SINK = "room"


class Pulse:
    def __init__(self, folder: Path):
        self.folder = folder
        self.socket = folder / "native"
        self.server = f"unix:{self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Pulse:
        exe = shutil.which("pulseaudio")
        if exe is None:
            raise RuntimeError("pulseaudio is not installed: run scripts/test, which installs it")
        env = {
            **os.environ,
            "PULSE_RUNTIME_PATH": str(self.folder),
            "PULSE_STATE_PATH": str(self.folder),
            "HOME": str(self.folder),
        }
        log = open(self.folder / "pulseaudio.log", "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        argv = [
            exe, "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
            "--disallow-exit", "--log-target=stderr",
            # The CPU limiter kills the server after seconds of heavy load, which a
            # busy CI machine gives it; realtime priority is not ours to take.
            "--no-cpu-limit=yes", "--realtime=no", "--high-priority=no",
            "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
            "-L", f"module-null-sink sink_name={SINK} rate=48000 format=s16le channels=2",
        ]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    "pulseaudio did not start: "
                    + (self.folder / "pulseaudio.log").read_text(errors="replace")[-2000:]
                )
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()


def pulse_session(folder: Path) -> Iterator[Pulse]:
    """Start the server, point this process's ALSA ``pulse`` device at it, clean up."""
    server = Pulse(folder).start()
    old = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server.server
    try:
        yield server
    finally:
        if old is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = old
        server.stop()
