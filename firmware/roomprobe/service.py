"""The probe daemon: runs the tests, keeps the verdicts, feeds the outbox and the link.

One thread does everything in a short loop (network I/O, due tests, the
outbox pump, heartbeats, watchdog pings), so state needs no locks and a hang
anywhere stops the watchdog pings, which is what the watchdog is for.

Durability: results, events and command replies go through the outbox
(committed before they are sent, removed after PUBACK). Status is the
current state, retained on the broker and re-sent on every connect and
heartbeat, so it goes straight to the link and never touches the SD card.
"""

from __future__ import annotations

import copy
import fcntl
import json
import logging
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__, host, local_requests, readiness, remote_config, supervisor, verdicts
from . import outbox as outbox_mod
from .atomic import write_atomic
from .config import NetConfig, ProbeConfig
from .contract import ContractError, Stamp, decode, encode, parse_utc, topics, utc_iso, validate
from .leds.legend import LedState
from .leds.status import Snapshot, showing
from .line import monitor, pacing
from .line.budget import DataBudget
from .line.monitor import LightMonitor
from .line.multistream import LineTestAborted, LineTestError
from .line.speedtest_cli import SpeedtestError
from .line.worker import Deferred, LineJob, LinkLost
from .link import BrokerLink
from .meetings import Meeting, Quiet, Schedule, why_no_active_tests
from .outbox import Dropped, Outbox, StorageError
from .simulated import SimulatedAudio, SimulatedLine
from .texts import text

if TYPE_CHECKING:  # numpy and scipy load only on a box that measures real audio
    from .audio.modelled import ModelAudio
    from .audio.probe import AudioJob, AudioProbe
    from .leds.panel import Panel

log = logging.getLogger(__name__)

LOOP_STEP_S = 0.1
READINESS_CHECK_S = 1.0  # how often the schedule is looked at for a readiness run
#: A run with no meeting ahead (by hand, nothing scheduled) shows on the meeting light this long.
READINESS_SHOWN_S = 3600.0


@dataclass
class ReadyRun:
    """A readiness run under way; ``waiting``: its tests not started yet."""

    due: readiness.Due
    source: str  # "schedule", "button", "hub" or "box" (roomprobe ready)
    started: float  # epoch seconds: verdicts newer than this are this run's
    started_mono: float
    request_ids: list[str] = field(default_factory=list)  # `roomprobe ready`s waiting on it
    # One test at a time: the line test first, then the audio chain's (the audio test waits
    # for a running line test, and would be counted as not tested).
    waiting: list[str] = field(default_factory=lambda: ["net", "audio"])


#: The system light shows "starting" for this long after the daemon starts.
BOOT_S = 10.0
LOCK_FILE = "roomprobe.lock"
#: What ``roomprobe doctor`` reads: the latest status and each kind's latest result.
NOW_FILE = "now.json"
#: The now-file is rewritten when what it says changes, and at least this often.
NOW_REFRESH_S = 600.0
NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK reason: accepted, but nobody will get it
# PUBACK reasons that no retry can fix: not authorised, topic name invalid, payload
# format invalid. Every other failure (quota exceeded, unspecified ...) is retried.
REFUSED_FOR_GOOD = frozenset({0x87, 0x90, 0x99})


class AlreadyRunning(RuntimeError):
    """Another daemon holds this state folder (two would take turns on one MQTT session)."""


OUTBOX_FILE = outbox_mod.FILE_NAME


class ProbeService:
    """The daemon's state and its main loop."""

    def __init__(self, cfg: ProbeConfig, config_problems: list[str] | None = None):
        # The box's own config (its file, or the last good copy) with the hub's set-config
        # settings, kept in the state folder, laid over it (roomprobe.remote_config).
        self.file_cfg = cfg
        cfg, self.hub_settings, self._hub_problems = remote_config.at_start(cfg)
        self.cfg = cfg
        self.config_problems = (config_problems or []) + self._hub_problems
        self.stop_event = threading.Event()
        self.started = time.monotonic()
        self.stamp = Stamp(cfg.site, host.boot_id(), host.clock_synced)
        state_dir = Path(cfg.paths.state_dir)
        self._lock = _lock_folder(state_dir)
        self.outbox = Outbox(state_dir / OUTBOX_FILE, self.stamp.boot_id,
                             cfg.outbox.max_bytes)  # fmt: skip
        self.line = SimulatedLine(cfg.simulation.profile, cfg.site, cfg.simulation.seed)
        self.audio = SimulatedAudio(cfg.simulation.profile, cfg.site, cfg.simulation.seed)
        # Survives restarts and power cuts: a reboot mid-meeting must not start a test tone.
        self.meeting_mode = self.outbox.get_state("meeting_mode") == "on"
        self.schedule = Schedule.loads(cfg.site, self.outbox.get_state("schedule"))
        # Readiness runs done (meeting@lead), kept so a restart between lead times runs the next.
        self._readiness_done = set(json.loads(self.outbox.get_state("readiness_done") or "[]"))
        self._ready_run: ReadyRun | None = None
        # The meeting light: the latest run's state, until its meeting ends (kept over reboots).
        self._shown_readiness = _load_shown(self.outbox.get_state("readiness_shown"))
        # Named in every answer to `roomprobe ready`: a command waiting on a run learns when
        # the daemon restarted (and the run was lost).
        self.instance = str(uuid.uuid4())
        # A full disk: what failed, and how many results and events could not be kept.
        self._storage_fault: str | None = None
        self._not_kept = 0
        try:
            self.outbox.set_state(local_requests.INSTANCE_KEY, self.instance)
        except StorageError as exc:
            self._storage_fault = str(exc)  # started on a full disk: shown, not fatal
        self._verdict_at: dict[str, float] = {}  # part -> epoch of its latest verdict
        self._line_deferred = False  # the last line test waited for a busy line to calm
        self.rejected = 0
        self.current: dict[str, verdicts.Verdict] = {
            "network": verdicts.unknown("net"),
            "audio": verdicts.unknown("audio"),
            "system": self._system_verdict(),
        }
        self._line_job: LineJob | None = None
        self.light = self._light_monitor(cfg.net)
        self.audio_model: ModelAudio | None = None
        if cfg.audio.backend == "model":
            from .audio.modelled import ModelAudio

            self.audio_model = ModelAudio(
                cfg.simulation.profile, cfg.site, cfg.simulation.seed, cfg.audio,
                cfg.thresholds, state_dir,
            )  # fmt: skip
        self._watch_faults: set[str] = set()  # the passive watch's faults reported, not cleared
        self._last_results: dict[str, dict[str, Any]] = {}  # kind -> latest, for doctor
        self._now_written: dict[str, Any] | None = None
        self._now_written_at = -float("inf")
        self.panel: Panel | None = None
        if cfg.hardware.leds != "none":
            from .leds.panel import Panel

            self.panel = Panel(cfg.hardware)
        self.audio_probe: AudioProbe | None = None
        if cfg.audio.backend == "alsa":
            from .audio.probe import AudioProbe

            self.audio_probe = AudioProbe(cfg.audio, cfg.thresholds, state_dir)
        self._audio_job: AudioJob | None = None
        self._rng = random.Random()
        self.budget = DataBudget(
            self.outbox.get_state, self._remember,
            cfg.net.daily_budget_mb, cfg.net.monthly_budget_mb,
        )  # fmt: skip
        self._inflight: dict[int, int] = {}  # paho mid -> outbox row id
        # Rows the broker acknowledged whose delete failed (a full card): never sent again,
        # deleted once the card takes writes.
        self._acked: set[int] = set()
        self.outbox.spare = lambda: {*self._inflight.values(), *self._acked}
        self._hold_until = 0.0  # no outbox sends before this (the hub's session is absent)
        self._hold_s = cfg.mqtt.reconnect_min_s
        now = time.monotonic()
        # The first line and audio tests run soon after start, so a fresh box has answers.
        self._due = {
            "net": now + min(2.0, cfg.net.interval_s),
            "audio": now + min(3.0, cfg.audio.interval_s),
            "monitor": now + cfg.net.monitor_interval_s,
        }
        self._monitor_started = now
        self._next_readiness = now
        self._next_heartbeat = now + cfg.daemon.heartbeat_s
        self._watchdog_s = supervisor.watchdog_interval_s()
        self._next_watchdog = now
        self.link = BrokerLink(
            cfg.mqtt,
            client_id=f"roomprobe-{cfg.site}",
            will=lambda: (topics.status(cfg.site), encode(self._status(online=False))),
            subscriptions=[topics.cmd_filter(cfg.site), topics.SCHEDULE],
            on_message=self._on_command,
            on_connected=self._on_connected,
            on_lost=self._inflight.clear,
            on_ack=self._on_ack,
        )

    # -- main loop ---------------------------------------------------------------------

    def run(self) -> None:
        log.info(
            "roomprobe %s for site %s, broker %s:%s, outbox %s (%d waiting)",
            __version__, self.cfg.site, self.cfg.mqtt.host, self.cfg.mqtt.port,
            self.outbox.path, self.outbox.count(),
        )  # fmt: skip
        self._event("started", "event.started", {"firmware": __version__})
        if self.config_problems:
            problems = "; ".join(self.config_problems)
            self._event("config_rejected", "event.config_rejected", {"problems": problems},
                        problems=problems)  # fmt: skip
        if self.light is not None:
            self.light.start()
        if self.audio_probe is not None:
            self.audio_probe.start()
        supervisor.notify("READY=1")
        try:
            while not self.stop_event.is_set():
                try:
                    self.tick()
                except StorageError as exc:
                    # A state write on a full card: shown on the system light, retried by
                    # the next tick; what is not in the outbox is counted in _keep.
                    self._storage_failed(exc)
        finally:
            self.shutdown()

    def tick(self) -> None:
        """One pass of the loop; public so tests can drive the daemon step by step."""
        self.link.step(LOOP_STEP_S)
        now = time.monotonic()
        if self._line_job is not None:
            if self._line_job.done():
                self._finish_line_job()
            elif not self._line_job.abort.is_set() and self.meeting_now() is not None:
                self._line_job.abort.set()  # a scheduled meeting is starting: rule 1
        if self._audio_job is not None:
            if self._audio_job.done():
                self._finish_audio_job()
            elif not self._audio_job.stop.is_set() and not self.may_run_active_tests():
                self._audio_job.stop.set()  # a meeting starts or meeting mode came on: rule 1
        for kind, due in list(self._due.items()):
            if now >= due:
                self._run_test(kind, now)
        if now >= self._next_readiness:
            self._next_readiness = now + READINESS_CHECK_S
            self._readiness_step(now)
        if self.panel is not None:
            for press in self.panel.presses():
                self._on_button(press)
            self.panel.show(self._leds())
        self._pump()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.cfg.daemon.heartbeat_s
            self._publish_status()
        if self._watchdog_s and now >= self._next_watchdog:
            self._next_watchdog = now + self._watchdog_s
            supervisor.notify("WATCHDOG=1")

    def shutdown(self, ack_wait_s: float = 2.0) -> None:
        supervisor.notify("STOPPING=1")
        if self._line_job is not None:
            self._line_job.stop()
        if self.light is not None:
            self.light.stop()
        if self._audio_job is not None:
            self._audio_job.stop.set()
            self._audio_job.join(5.0)
        if self.audio_probe is not None:
            self.audio_probe.stop()
        if self.panel is not None:
            self.panel.close()
        # Give acknowledgements in flight a moment, so a restart resends less.
        deadline = time.monotonic() + ack_wait_s
        while self._inflight and self.link.connected and time.monotonic() < deadline:
            self.link.step(0.05)
        if self.link.connected:
            self.link.publish(
                topics.status(self.cfg.site), encode(self._status(online=False)), retain=True
            )
        self.link.close()
        log.info("stopped; %d messages wait in the outbox", self.outbox.count())
        self.outbox.close()
        self._lock.close()

    # -- tests and verdicts -----------------------------------------------------------

    def why_not_active(self) -> Quiet | None:
        """Rule 1: why no tone and no heavy bandwidth test may run now (None: they may).

        People talking in the room count as a meeting nobody scheduled.
        """
        return why_no_active_tests(
            self.meeting_mode, self.schedule, datetime.now(UTC), self.cfg.daemon.meeting_guard_s,
            host.clock_synced() or self.cfg.daemon.trust_unsynced_clock,
            self.audio_probe is not None and self.audio_probe.room_active,
        )  # fmt: skip

    def may_run_active_tests(self) -> bool:
        return self.why_not_active() is None

    def meeting_now(self) -> Meeting | None:
        """The scheduled meeting on now (with the guard before and after), if any."""
        return self.schedule.current(datetime.now(UTC), self.cfg.daemon.meeting_guard_s)

    def _run_test(self, kind: str, now: float) -> None:
        if kind == "monitor":
            self._due[kind] = now + self.cfg.net.monitor_interval_s
            window = now - self._monitor_started
            self._monitor_started = now
            if self.light is not None:
                if not self.light.has_samples():
                    return  # all of it spent paused for our own heavy test: nothing to judge
                metrics = self.light.summary(window)
            else:
                metrics = self.line.monitor_window(window)
            if self.audio_probe is not None:
                self._add_watch(metrics)
            verdict = verdicts.monitor(metrics, self.cfg.thresholds)
            self._publish_result("monitor", metrics, verdict, time.time() - window,
                                 simulated=self.light is None)  # fmt: skip
            return
        interval = self.cfg.net.interval_s if kind == "net" else self.cfg.audio.interval_s
        self._due[kind] = now + interval
        why = self.why_not_active()
        if why is not None:
            log.info("%s test skipped: %s", kind, why)
            return
        started = time.time()
        if kind == "net" and self.cfg.net.backend == "hub":
            self._start_line_job()
            return
        if kind == "audio" and self.audio_probe is not None:
            self._start_audio_job()
            return
        if kind == "net":
            metrics = self.line.line_test()
            verdict = verdicts.net(metrics, self.cfg.thresholds)
            self._set_verdict("network", verdict)
        elif self.audio_model is not None:
            metrics, findings = self.audio_model.audio_test()
            self._set_verdict("audio", findings.overall)
            self._publish_result(kind, metrics, findings.overall, started,
                                 components=findings.to_list())  # fmt: skip
            return
        else:
            metrics = self.audio.audio_test()
            verdict = verdicts.audio(metrics, self.cfg.thresholds)
            self._set_verdict("audio", verdict)
        self._publish_result(kind, metrics, verdict, started)

    # -- the real line test (backend "hub") ---------------------------------------------

    def _start_line_job(self) -> None:
        self._line_deferred = False
        net = self.cfg.net
        # Randomised, so a district's probes do not all measure the hub at once.
        self._due["net"] = time.monotonic() + pacing.next_interval(net.interval_s, self._rng)
        if self._line_job is not None:
            return
        usage = self.budget.usage()
        expected_mb = self._expected_line_cost_mb()
        if not usage.fits(expected_mb):
            limit = usage.day_limit_mb if usage.day_used_mb + expected_mb > usage.day_limit_mb \
                else usage.month_limit_mb  # fmt: skip
            used = usage.day_used_mb if limit == usage.day_limit_mb else usage.month_used_mb
            log.warning("line test skipped: data budget (%.0f of %.0f MB used)", used, limit)
            self._event("test_skipped", "event.test_skipped_budget",
                        {"test": "net", "reason": "budget", **usage.to_dict()},
                        used=used, limit=limit)  # fmt: skip
            return
        last_st = float(self.outbox.get_state("speedtest-cli-last") or 0)
        with_st = (
            net.speedtest_cli != "off" and time.time() - last_st >= net.speedtest_cli_interval_s
        )
        if self.light is not None:
            self.light.paused.set()
        log.info("line test started%s", " with speedtest-cli" if with_st else "")
        self._line_job = LineJob(net, with_speedtest_cli=with_st)

    @staticmethod
    def _light_monitor(net: NetConfig) -> LightMonitor | None:
        """The continuous light probes, for a real line (backend "hub")."""
        if net.backend != "hub" or not net.server_url:
            return None
        return monitor.from_config(net)

    def _expected_line_cost_mb(self) -> float:
        """What the next heavy test will likely cost: the last one's bytes, else the worst case."""
        last = self.outbox.get_state("line-test-last-bytes")
        if last:
            return int(last) / 1e6
        t = self.cfg.thresholds  # at the required rate for the longest test, both ways,
        return (t.download_mbps + t.upload_mbps) / 8 * 10 * 3  # speedtest-cli's run included

    def _finish_line_job(self) -> None:
        job, self._line_job = self._line_job, None
        assert job is not None
        if self.light is not None:
            self.light.paused.clear()
        try:
            outcome = job.result()
        except LineTestAborted:
            log.info("line test stopped: meeting mode came on")
            self.budget.spend(int(self._expected_line_cost_mb() * 1e6 / 2))  # about half ran
            self._due["net"] = time.monotonic() + self.cfg.net.busy_retry_s
            return
        except LinkLost as exc:
            # The probe's own port dropped (or had no route): the room's LAN acts, not the
            # ISP, and no figures measured across the drop are kept (line/worker.py).
            log.warning("line test failed: %s", exc)
            if exc.drops > 0:  # it measured until the drop; a port down at the start sent nothing
                self.budget.spend(int(self._expected_line_cost_mb() * 1e6))
            self._due["net"] = time.monotonic() + self.cfg.net.busy_retry_s  # try again soon
            self._set_verdict("network", verdicts.make("net", "fail", "net.link_lost", "room-lan"))
            return
        except Exception as exc:  # one failed test must not stop the daemon
            if not isinstance(exc, LineTestError | SpeedtestError):
                log.exception("line test failed unexpectedly")
            log.warning("line test failed: %s", exc)
            # Data may have flowed before the failure: charge it, so a failing test
            # repeated by restarts cannot spend past the budget.
            self.budget.spend(int(self._expected_line_cost_mb() * 1e6))
            self._set_verdict(
                "network", verdicts.make("net", "unknown", "net.test_failed", problem=str(exc))
            )
            return
        if isinstance(outcome, Deferred):
            log.info("line test deferred: %s carries %.0f kbit/s", outcome.iface, outcome.kbps)
            self._due["net"] = time.monotonic() + self.cfg.net.busy_retry_s
            self._line_deferred = True  # a readiness run waits for the retry
            return
        metrics = outcome
        usage = self.budget.spend(metrics["bytes_used"])
        self._remember("line-test-last-bytes", str(metrics["bytes_used"]))
        if "speedtest_cli" in metrics["estimates"]:
            self._remember("speedtest-cli-last", str(time.time()))
        metrics["budget"] = usage.to_dict()
        verdict = verdicts.net(metrics, self.cfg.thresholds)
        self._set_verdict("network", verdict)
        self._publish_result("net", metrics, verdict, job.started, simulated=False)

    # -- the real audio test (backend "alsa") -----------------------------------------------

    def _add_watch(self, metrics: dict[str, Any]) -> None:
        """The passive watch's window into the monitor result; its faults as events.

        Howling, hum, USB dropouts, overruns or a lost interface between tests
        are reported when they appear (event ``fault``) and when they go
        (``fault_cleared``), not only with the next active test.
        """
        from .audio.diagnosis import diagnose

        assert self.audio_probe is not None
        summary = self.audio_probe.watch.summary()
        ret = summary.channels[0] if summary.channels else None
        metrics["audio_rms_dbfs"] = (
            round(ret.rms_dbfs, 1) if ret is not None and math.isfinite(ret.rms_dbfs) else None
        )
        metrics["room_active"] = self.audio_probe.room_active
        metrics["audio_watch"] = summary.to_dict()
        err = self.audio_probe.capture.error
        findings = diagnose(None, self.cfg.thresholds, watch=summary, device_error=err)
        bad = {v.reason: v for v in findings.components if v.status in ("degraded", "fail")}
        for reason, v in bad.items():
            if reason not in self._watch_faults:
                # The reason is in the details so a later fault_cleared names the same one.
                self._event("fault", reason, {"check": v.check, "status": v.status,
                                              "actor": v.actor, "reason": reason},
                            message=v.message)  # fmt: skip
        for reason in sorted(self._watch_faults - set(bad)):
            self._event("fault_cleared", "audio.ok", {"cleared": reason})
        self._watch_faults = set(bad)

    def _start_audio_job(self) -> None:
        if self._audio_job is not None or self._line_job is not None:
            # One heavy test at a time: the line test's traffic and the tone share
            # nothing, but a probe busy with both reports neither well. Retry soon.
            self._due["audio"] = time.monotonic() + min(60.0, self.cfg.audio.interval_s)
            return
        assert self.audio_probe is not None
        if not self.audio_probe.quiet_enough():
            log.info("audio test postponed: the room was not quiet long enough")
            self._due["audio"] = time.monotonic() + min(60.0, self.cfg.audio.interval_s)
            return
        log.info("audio test started")
        self._audio_job = self.audio_probe.start_test()

    def _finish_audio_job(self) -> None:
        job, self._audio_job = self._audio_job, None
        assert job is not None and job.result is not None
        res = job.result
        if res.status == "aborted":
            log.warning("audio test stopped: people talked or a meeting began")
            self._due["audio"] = time.monotonic() + min(300.0, self.cfg.audio.interval_s)
        verdict = res.verdict
        if res.status != "aborted":  # an aborted test says nothing new about the chain
            self._set_verdict("audio", verdict)
        self._publish_result("audio", res.metrics, verdict, res.started, simulated=False,
                             components=res.findings.to_list())  # fmt: skip

    def _publish_result(
        self, kind: str, metrics: dict[str, Any], verdict: verdicts.Verdict, started: float,
        simulated: bool = True, **extra: Any,
    ) -> None:  # fmt: skip
        self._last_results[kind] = {
            "at": utc_iso(_from_epoch(started)),
            "verdict": verdict.to_dict(),
            "metrics": metrics,
            **{k: extra[k] for k in ("components", "parts", "meeting_id") if k in extra},
        }
        self._keep(
            topics.result(self.cfg.site, kind),
            lambda seq: self.stamp.envelope(
                f"roomprobe.result.{kind}", seq,
                kind=kind,
                started_at=utc_iso(_from_epoch(started)),
                duration_s=round(max(0.0, time.time() - started), 3),
                simulated=simulated,
                verdict=verdict.to_dict(),
                metrics=metrics,
                **extra,
            ),
        )  # fmt: skip

    def _set_verdict(self, part: str, verdict: verdicts.Verdict) -> None:
        changed = self.current[part] != verdict
        self.current[part] = verdict
        self._verdict_at[part] = time.time()
        if changed:
            self._publish_status()

    def _system_verdict(self) -> verdicts.Verdict:
        if self._storage_fault is not None:
            return verdicts.make("system", "fail", "system.disk_full", "probe")
        if self.outbox.has_unreported_drops:
            dropped = self.outbox.dropped_unreported().count
            return verdicts.make("system", "degraded", "system.outbox_full", "probe", value=dropped)
        if self.config_problems:
            return verdicts.make("system", "degraded", "system.config_rejected", "probe")
        if self.rejected:
            return verdicts.make(
                "system", "degraded", "system.outbox_rejected", "probe", value=self.rejected
            )
        return verdicts.make("system", "ok", "system.ok")

    # -- readiness before meetings (roomprobe.readiness) -----------------------------------

    def start_readiness(self, source: str) -> bool:
        """A run now, by hand (button, hub). False when one is already under way."""
        if self._ready_run is not None:
            return False
        self._ready_run = self._manual_run(source)
        self._readiness_step(time.monotonic())
        return True

    def _manual_run(self, source: str) -> ReadyRun:
        d = self.cfg.daemon
        due = readiness.manual(self.schedule, datetime.now(UTC), d.meeting_guard_s,
                               max(d.readiness_lead_s))  # fmt: skip
        return ReadyRun(due, source, time.time(), time.monotonic())

    def _take_local_requests(self) -> None:
        """`roomprobe ready` at the box: run now (rule 1 applies), or join the run under way."""
        for request_id in local_requests.take(self.outbox):
            why = self.why_not_active()
            if why is not None and self._ready_run is None:
                log.info("roomprobe ready: no check now: %s", why)
                local_requests.answer(self.outbox, request_id, self.instance, "refused",
                                      code=why.code, message=why.text())  # fmt: skip
                continue
            if self._ready_run is None:
                self._ready_run = self._manual_run("box")
            self._ready_run.request_ids.append(request_id)
            local_requests.answer(self.outbox, request_id, self.instance, "started",
                                  source=self._ready_run.source)  # fmt: skip

    def _readiness_step(self, now: float) -> None:
        self._take_local_requests()
        run = self._ready_run
        if run is None:
            due = readiness.due(self.schedule, datetime.now(UTC), self.cfg.daemon.readiness_lead_s,
                                self.cfg.daemon.meeting_guard_s, self._readiness_done)  # fmt: skip
            if due is None:
                return
            run = self._ready_run = ReadyRun(due, "schedule", time.time(), now)
            log.info("readiness run for meeting %s, %gs before it", due.meeting.id if
                     due.meeting else None, due.lead_s or 0)  # fmt: skip
        too_late = (run.due.deadline is not None and datetime.now(UTC) >= run.due.deadline) or (
            now - run.started_mono > self.cfg.daemon.readiness_max_s
        )
        if too_late:
            if run.waiting:
                log.info("readiness run could not test %s: %s", ", ".join(run.waiting),
                         self.why_not_active() or "no time left")  # fmt: skip
            self._finish_readiness(run)
            return
        # One test at a time, each when the room allows it (rule 1); the deadline decides.
        while not self._test_job_running():
            if run.waiting:
                if self.why_not_active() is not None:
                    return  # people talk or meeting mode is on: wait
                self._run_test(run.waiting.pop(0), now)  # a real backend's test is a job
            elif self._line_deferred:
                return  # the room's own traffic held the line test back; its retry is due
            else:
                self._finish_readiness(run)
                return

    def _test_job_running(self) -> bool:
        return self._line_job is not None or self._audio_job is not None

    def _finish_readiness(self, run: ReadyRun) -> None:
        parts: dict[str, verdicts.Verdict] = {}
        for part, check in (("network", "net"), ("audio", "audio")):
            fresh = self._verdict_at.get(part, 0.0) >= run.started
            parts[part] = self.current[part] if fresh else verdicts.unknown(check)
        parts["system"] = self._system_verdict()
        state = readiness.state_of(parts)
        meeting_id = run.due.meeting.id if run.due.meeting else None
        self._publish_result(
            "readiness", {}, readiness.overall(parts), run.started, simulated=self.cfg.simulated,
            readiness=state, meeting_id=meeting_id,
            parts={k: v.to_dict() for k, v in parts.items()},
        )  # fmt: skip
        log.info("readiness for meeting %s: %s (%s)", meeting_id, state, run.source)
        for request_id in run.request_ids:
            try:
                local_requests.answer(self.outbox, request_id, self.instance, "done",
                                      result=self._last_results["readiness"])  # fmt: skip
            except StorageError as exc:  # the command at the box says "no answer"
                self._storage_failed(exc)
        self._ready_run = None
        until = run.due.meeting.end.timestamp() if run.due.meeting else (
            time.time() + READINESS_SHOWN_S)  # fmt: skip
        # In memory first: a card that cannot take the write must not make the run repeat.
        self._shown_readiness = (state, until, meeting_id)
        if run.due.lead_s is not None:
            self._readiness_done.add(run.due.key)
            self._readiness_done = readiness.keep_done(self._readiness_done, self.schedule)
        self._remember("readiness_shown", json.dumps({"state": state, "until": until,
                                                      "meeting": meeting_id}))  # fmt: skip
        if run.due.lead_s is not None:
            self._remember("readiness_done", json.dumps(sorted(self._readiness_done)))
        self._publish_status()  # and now.json: `roomprobe doctor` shows the run at once

    # -- the front panel ------------------------------------------------------------------

    def _leds(self) -> dict[str, LedState]:
        """What each indicator shows now (sent in every status, shown on the box if it has LEDs)."""
        running = set()
        if self._line_job is not None:
            running.add("net")
        if self._audio_job is not None:
            running.add("audio")
        snap = Snapshot(
            verdicts=self.current, running=frozenset(running), meeting_mode=self.meeting_mode,
            booting=time.monotonic() - self.started < BOOT_S,
            broker_connected=self.link.connected,
            readiness=self._readiness_shown(), checking=self._ready_run is not None,
        )  # fmt: skip
        return showing(snap)

    def _readiness_shown(self) -> str | None:
        """The readiness state the meeting light shows: the latest run's, until its meeting ends."""
        if self._shown_readiness is None:
            return None
        state, until, _ = self._shown_readiness
        return state if time.time() < until else None

    def _on_button(self, press: str) -> None:
        """Short: test now (rule 1 still applies). Long: meeting mode on or off."""
        if press == "long":
            self._event("button", "event.button_long", {"press": "long"})
            self.set_meeting_mode(not self.meeting_mode, "button")
            return
        why = self.why_not_active()
        if why is not None:
            log.info("test button: no test now: %s", why)
            self._event("button", "event.button_refused", {"press": "short", "why": why.code},
                        why=why.text())  # fmt: skip
            return
        self._event("button", "event.button_test", {"press": "short"})
        self.start_readiness("button")  # the line and the audio tested, judged as one

    # -- status ---------------------------------------------------------------------------

    def _status(self, online: bool) -> dict[str, Any]:
        return validate(self._status_payload(online))

    def _status_payload(self, online: bool) -> dict[str, Any]:
        return self.stamp.envelope(
            "roomprobe.status", self.outbox.last_seq(),
            online=online,
            firmware=__version__,
            uptime_s=round(host.process_uptime_s(), 1),
            meeting_mode=self.meeting_mode,
            simulated=self.cfg.simulated,
            outbox_pending=self.outbox.count(),
            outbox_dropped=self.outbox.dropped_total(),
            verdicts={k: v.to_dict() for k, v in self.current.items()},
            leds={k: v.key for k, v in self._leds().items()},
        )  # fmt: skip

    def _publish_status(self) -> None:
        supervisor.notify("STATUS=" + ", ".join(f"{k} {v.status}" for k, v in self.current.items()))
        status = self._status(online=True)
        self.link.publish(topics.status(self.cfg.site), encode(status), retain=True)
        self._write_now(status)

    def _write_now(self, status: dict[str, Any]) -> None:
        """Keep state_dir/now.json for ``roomprobe doctor``: the status and the last results.

        Written (atomically) when what it says changes, or every NOW_REFRESH_S,
        not on every heartbeat: the SD card's writes are counted.
        """
        steady = {k: v for k, v in status.items()
                  if k not in ("ts", "msg_id", "uptime_s", "seq")}  # fmt: skip
        doc = {"status": steady, "last": self._last_results}
        now = time.monotonic()
        if doc == self._now_written and now - self._now_written_at < NOW_REFRESH_S:
            return
        path = Path(self.cfg.paths.state_dir) / NOW_FILE
        body = json.dumps({**doc, "written_at": utc_iso()}, ensure_ascii=False)
        try:
            # Rewritten often and cheap to lose: no fsync, fewer writes to the SD card.
            write_atomic(path, body.encode("utf-8"), sync=False)
        except OSError as exc:  # a full disk must not stop the daemon
            log.warning("cannot write %s: %s", path, exc)
            return
        # A copy: _last_results changes in place, and must compare unequal when it does.
        self._now_written, self._now_written_at = copy.deepcopy(doc), now

    # -- outbox ---------------------------------------------------------------------------

    def _keep(self, topic: str, build: Any) -> None:
        """Commit one message to the outbox; on a full or failing disk, count it and say so.

        A result that cannot be written cannot be sent durably either: it is counted
        (status, and the event when space returns) rather than crashing the daemon into
        a restart loop that would measure nothing at all.
        """
        dropping = self.outbox.has_unreported_drops
        try:
            self.outbox.put(topic, build)
        except StorageError as exc:
            self._not_kept += 1
            self._storage_failed(exc)
            return
        if self._storage_fault is not None:
            self._storage_recovered()
        elif self.outbox.has_unreported_drops:
            if not dropping:
                log.warning("outbox full (%.2f MB): dropping the oldest results",
                            self.cfg.outbox.max_mb)  # fmt: skip
            self._set_verdict("system", self._system_verdict())  # the count, kept current

    def _remember(self, key: str, value: str) -> None:
        """Persist one fact; on a full card, say so and go on with it held in memory
        (the caller has already acted on it: a half-done step must not repeat)."""
        try:
            self.outbox.set_state(key, value)
        except StorageError as exc:
            self._storage_failed(exc)

    def _storage_failed(self, exc: StorageError) -> None:
        if self._storage_fault is None:
            log.error("cannot write to %s: %s; results are not kept until space returns",
                      self.outbox.path, exc)  # fmt: skip
            self._storage_fault = str(exc)
            self._set_verdict("system", self._system_verdict())

    def _storage_recovered(self) -> None:
        """The outbox took a write again: clear the fault and tell the hub what was missed."""
        fault, self._storage_fault = self._storage_fault, None
        not_kept = self._not_kept
        log.warning("the outbox is writable again (after: %s); %d messages were not kept",
                    fault, not_kept)  # fmt: skip
        self._set_verdict("system", self._system_verdict())
        message = text("event.disk_full_cleared", not_kept=not_kept)
        try:
            self.outbox.put(
                topics.event(self.cfg.site),
                lambda seq: self.stamp.envelope(
                    "roomprobe.event", seq, event="fault_cleared", message=message,
                    details={"cleared": "system.disk_full", "not_kept": not_kept},
                ),
            )  # fmt: skip
        except StorageError as exc:  # full again: the count stays for the next report
            self._storage_failed(exc)
            return
        self._not_kept -= not_kept

    def _report_drops(self) -> None:
        """Once the broker is back, tell the hub which sequence numbers the bound dropped."""

        def build(seq: int, dropped: Dropped) -> dict[str, Any]:
            return self.stamp.envelope(
                "roomprobe.event", seq, event="outbox_dropped",
                message=text("event.outbox_dropped", count=dropped.count,
                             mb=self.cfg.outbox.max_mb),
                details=dropped.to_details(),
            )  # fmt: skip

        try:
            report = self.outbox.put_drop_report(topics.event(self.cfg.site), build)
        except StorageError as exc:
            self._storage_failed(exc)
            return
        if report is not None:
            log.warning("outbox: %d results were dropped while the broker was away (reported)",
                        report["details"]["count"])  # fmt: skip
            self._set_verdict("system", self._system_verdict())

    def _pump(self) -> None:
        if self._acked:
            self._forget_acked()
        room = self.cfg.mqtt.inflight - len(self._inflight)
        if not self.link.connected or room <= 0 or time.monotonic() < self._hold_until:
            return
        if self.outbox.has_unreported_drops:
            self._report_drops()
        for row in self.outbox.pending(room, skip=self.outbox.spare()):
            mid = self.link.publish(row.topic, row.payload, qos=1)
            if mid is None:
                return
            self._inflight[mid] = row.id

    def _on_ack(self, mid: int, code: int, reason: str) -> None:
        """Settle one outbox row by the broker's PUBACK reason code.

        "No matching subscribers" means the hub's persistent session does not
        exist (a new broker, a lost broker database): the broker would drop
        the message, so it stays in the outbox and sending pauses, backing
        off like a reconnect, until the hub has subscribed again.
        """
        row_id = self._inflight.pop(mid, None)
        if row_id is None:
            return  # a status message: not from the outbox
        if code < 0x80 and code != NO_MATCHING_SUBSCRIBERS:
            self._acked.add(row_id)  # delivered: never sent again, whatever the card says
            self._forget_acked()
            self._hold_s = self.cfg.mqtt.reconnect_min_s
        elif code not in REFUSED_FOR_GOOD:
            # Nobody subscribed, or a passing refusal (quota ...): keep it, pause, retry.
            if time.monotonic() >= self._hold_until:
                log.warning("broker did not take results (%s); holding them", reason)
                self._hold_until = time.monotonic() + self._hold_s
                self._hold_s = min(self._hold_s * 2, self.cfg.mqtt.reconnect_max_s)
        else:
            # Refused for good (e.g. not authorised): keep it aside, not lost; after the
            # cause is fixed, `roomprobe outbox --requeue-rejected` sends it again.
            self.outbox.reject(row_id, reason)
            self.rejected += 1
            log.error("broker refused outbox message %d: %s", row_id, reason)
            self._set_verdict("system", self._system_verdict())

    def _forget_acked(self) -> None:
        """Delete the rows the broker acknowledged; on a full card they wait in memory."""
        for row_id in sorted(self._acked):
            try:
                self.outbox.remove(row_id)
            except StorageError as exc:
                self._storage_failed(exc)
                return
            self._acked.discard(row_id)

    def _on_connected(self) -> None:
        self._publish_status()

    # -- events and commands ---------------------------------------------------------------

    def _event(
        self, event: str, reason: str, details: dict[str, Any],
        message: dict[str, str] | None = None, **values: Any,
    ) -> None:  # fmt: skip
        """A durable event; ``message`` when the text is already filled (a verdict's)."""
        msg = message if message is not None else text(reason, **values)
        self._keep(
            topics.event(self.cfg.site),
            lambda seq: self.stamp.envelope(
                "roomprobe.event", seq, event=event, message=msg, details=details
            ),
        )

    def set_meeting_mode(self, on: bool, source: str) -> None:
        if on == self.meeting_mode:
            return
        self.meeting_mode = on
        if on and self._line_job is not None:
            self._line_job.abort.set()  # rule 1: the line is the meeting's now
        if on and self._audio_job is not None:
            self._audio_job.stop.set()  # rule 1: the tone stops now, not at the next tick
        self._remember("meeting_mode", "on" if on else "off")
        reason = "event.meeting_mode_on" if on else "event.meeting_mode_off"
        self._event("meeting_mode", reason, {"on": on, "source": source})
        self._publish_status()

    def _on_schedule(self, raw: bytes) -> None:
        try:
            payload = decode(raw, "roomprobe.schedule")
        except ContractError as exc:
            log.warning("ignoring a malformed schedule: %s", exc)
            return
        mine = self.schedule.accept(payload)
        self._remember("schedule", self.schedule.dumps(mine))  # known after a reboot
        shown = self._shown_readiness
        if (
            shown is not None
            and shown[2] is not None
            and shown[2] not in {m.id for m in self.schedule.meetings}
        ):
            # Its meeting was removed or moved (a new id): the answer is about nothing now.
            self._shown_readiness = None
            self._remember("readiness_shown", "")
        log.info("schedule: %d meetings for this room", len(mine))

    def _on_command(self, topic: str, raw: bytes) -> None:
        if topic == topics.SCHEDULE:
            self._on_schedule(raw)
            return
        try:
            parsed = topics.parse(topic)
        except topics.TopicError as exc:
            log.warning("ignoring a message on %s: %s", topic, exc)
            return
        name = parsed.subname or "unknown"
        try:
            cmd = decode(raw, "roomprobe.cmd")
        except ContractError as exc:
            log.warning("refusing a malformed command on %s: %s", topic, exc)
            request_id = _readable_msg_id(raw)
            if request_id:  # without an id no reply could be tied to the request
                self._reply(request_id, name, False, "bad_command", "cmd.bad_command",
                            {"problem": str(exc)}, {})  # fmt: skip
            return
        if cmd["site"] != self.cfg.site or name != cmd["command"]:
            self._reply(cmd["msg_id"], name, False, "bad_command", "cmd.bad_command",
                        {"problem": "the topic and the payload name different sites or commands"},
                        {})  # fmt: skip
            return
        self._reply(cmd["msg_id"], cmd["command"], *self._execute(cmd))

    def _reply(
        self, request_id: str, command: str, ok: bool, error: str | None, reason: str,
        values: dict[str, Any], result: dict[str, Any],
    ) -> None:  # fmt: skip
        self._keep(
            topics.cmd_reply(self.cfg.site),
            lambda seq: self.stamp.envelope(
                "roomprobe.cmd-reply", seq,
                request_id=request_id, command=command[:64], ok=ok, error=error,
                message=text(reason, **values), result=result,
            ),
        )  # fmt: skip

    def _execute(
        self, cmd: dict[str, Any]
    ) -> tuple[bool, str | None, str, dict[str, Any], dict[str, Any]]:
        """Run one command: (ok, error code, reason text, its values, result)."""
        if host.clock_synced() and parse_utc(cmd["expires_at"]).timestamp() < time.time():
            return False, "expired", "cmd.expired", {}, {}
        args = cmd["args"]
        match cmd["command"]:
            case "meeting-mode":
                on = args.get("on")
                if not isinstance(on, bool):
                    return False, "bad_args", "cmd.bad_args", {"problem": "on: true|false"}, {}
                self.set_meeting_mode(on, "hub")
                return True, None, "cmd.accepted", {}, {"meeting_mode": on}
            case "run-test":
                wanted = args.get("tests", ["net", "audio"])
                if (
                    not isinstance(wanted, list)
                    or not all(isinstance(t, str) for t in wanted)
                    or not set(wanted) <= {"net", "audio"}
                ):
                    problem = "tests: a list of net, audio"
                    return False, "bad_args", "cmd.bad_args", {"problem": problem}, {}
                if (why := self.why_not_active()) is not None:
                    return False, why.code, "cmd.not_now", {"why": why.text()}, {}
                now = time.monotonic()
                for kind in wanted:
                    self._run_test(kind, now)
                ran = {k: self.current["network" if k == "net" else "audio"].status for k in wanted}
                return True, None, "cmd.test_done", {}, {"verdicts": ran}
            case "ready":
                if (why := self.why_not_active()) is not None:
                    return False, why.code, "cmd.not_now", {"why": why.text()}, {}
                started = self.start_readiness("hub")
                return True, None, "cmd.accepted", {}, {"readiness_run": "started" if started
                                                         else "already running"}  # fmt: skip
            case "set-config":
                return self._set_config(args, cmd["msg_id"])
        return False, "not_supported", "cmd.not_supported", {}, {}

    def _set_config(
        self, args: Any, request_id: str
    ) -> tuple[bool, str | None, str, dict[str, Any], dict[str, Any]]:
        """Check a partial config from the hub, keep it on the card, then run with it.

        Rule 3: a refusal changes nothing, and the settings are written (atomically,
        synced) before they are applied, so a power cut leaves the last good ones.
        """
        checked = remote_config.change(self.file_cfg, self.cfg, self.hub_settings, args)
        if isinstance(checked, remote_config.Refusal):
            result = checked.result()  # its problems bounded, for the log as for the reply
            log.warning("set-config refused: %s", "; ".join(result["problems"]))
            return False, checked.error, checked.reason, checked.values, result
        if checked.settings != self.hub_settings or self._hub_problems:
            try:
                remote_config.keep(self.cfg.paths.state_dir, checked.settings, request_id)
            except OSError as exc:
                log.error("set-config not kept: %s", exc)
                return False, "not_saved", "cmd.config_not_saved", {"problem": str(exc)}, {}
        self.hub_settings = checked.settings
        if self._hub_problems:  # the kept settings that did not fit are replaced now
            self.config_problems = [p for p in self.config_problems
                                    if p not in self._hub_problems]  # fmt: skip
            self._hub_problems = []
            self._set_verdict("system", self._system_verdict())
        if not checked.changed:
            return True, None, "cmd.config_unchanged", {}, checked.result()
        self.take_config(checked.cfg)
        log.info("set-config applied: %s", checked.summary()["en"])
        self._event("config_applied", "event.config_applied",
                    {"source": "hub", "request_id": request_id, **checked.result()},
                    changes=checked.summary())  # fmt: skip
        return True, None, "cmd.config_applied", {"changes": checked.summary()}, checked.result()

    def take_config(self, new: ProbeConfig) -> None:
        """Run with ``new`` from now on; it differs only in keys the hub may change.

        Those keys are read as the daemon runs, except where a part holds its own
        copy (the data budget, the audio probe): those copies are replaced. A
        shorter interval counts from now, not from the last test.
        """
        self.cfg = new
        now = time.monotonic()
        for kind, interval in (("net", new.net.interval_s), ("audio", new.audio.interval_s),
                               ("monitor", new.net.monitor_interval_s)):  # fmt: skip
            self._due[kind] = min(self._due[kind], now + interval)
        self._next_heartbeat = min(self._next_heartbeat, now + new.daemon.heartbeat_s)
        self.budget.day_limit_mb = new.net.daily_budget_mb
        self.budget.month_limit_mb = new.net.monthly_budget_mb
        if self.audio_probe is not None:
            self.audio_probe.cfg, self.audio_probe.thresholds = new.audio, new.thresholds
        if self.audio_model is not None:
            self.audio_model.thresholds = new.thresholds


def _load_shown(raw: str | None) -> tuple[str, float, str | None] | None:
    """The meeting light's kept state (state, until, meeting id); None: none or damaged."""
    try:
        kept = json.loads(raw) if raw else None
        if kept and kept["state"] in (readiness.READY, readiness.NOT_READY, readiness.UNKNOWN):
            meeting = kept.get("meeting")
            return str(kept["state"]), float(kept["until"]), str(meeting) if meeting else None
    except (ValueError, KeyError, TypeError):
        pass
    return None


def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _readable_msg_id(raw: bytes) -> str | None:
    """The msg_id of a command too broken to validate, if one can be read at all."""
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("msg_id"), str):
        return None
    try:
        return str(uuid.UUID(payload["msg_id"])) if len(payload["msg_id"]) == 36 else None
    except ValueError:
        return None


def _lock_folder(folder: Path) -> TextIO:
    """Hold an exclusive lock on the state folder for the daemon's lifetime."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_FILE, "a+")  # noqa: SIM115 - held until shutdown
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunning(
            f"another roomprobe is running with the state folder {folder}"
        ) from None
    return handle
