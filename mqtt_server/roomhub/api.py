"""The hub's JSON API: what the dashboard shows, and the two things it can do.

Reads: sites, one site with its history, the quarantine, health, the
readiness board, a meeting's summary (what each room's probe saw before and
during it, meeting_summary). Writes: a command to one probe (its reply is read back from
``/api/commands/<id>``), and the meeting schedule (every change republishes
the retained schedule). ``roomhub probe`` and ``roomhub meeting`` use these.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from roomprobe.contract import ContractError, topics, utc_iso

from . import alerts, meeting_summary, outbound, readiness, schedule, store
from .deps import DB, HubDep, valid_site

log = logging.getLogger(__name__)

HISTORY_LIMIT_DAYS = 92


class CommandRequest(BaseModel):
    command: str = Field(description="run-test, meeting-mode, set-config or ready")
    args: dict[str, Any] = Field(default_factory=dict)


class MeetingRequest(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    start: datetime
    end: datetime
    sites: list[str] = Field(default_factory=list, max_length=500)


def send_command(hub: HubDep, site: str, command: str, args: dict[str, Any], by: str) -> dict:
    """Check and send one command; the dashboard's form and the API share this."""
    valid_site(site)
    if command not in topics.COMMANDS:
        raise HTTPException(400, f"unknown command {command[:40]!r}; "
                                 f"known: {', '.join(topics.COMMANDS)}")  # fmt: skip
    sender = hub.need_sender()
    try:
        return sender.send_command(site, command, args, sent_by=by)
    except ContractError as exc:
        raise HTTPException(400, f"the command is not valid: {exc}") from None
    except outbound.SendError as exc:
        raise HTTPException(503, str(exc)) from None


def republish(hub: HubDep) -> str | None:
    """Publish the schedule after a change; a broker that is away gets it on reconnect."""
    if hub.sender is None:
        return "no broker connection: the schedule goes out when the hub connects"
    try:
        hub.sender.publish_schedule()
    except outbound.SendError as exc:
        log.warning("schedule not published now (%s); it will be on reconnect", exc)
        return str(exc)
    return None


def add_meeting(hub: HubDep, title: str, start: datetime, end: datetime,
                sites: list[str]) -> tuple[schedule.Meeting, str | None]:  # fmt: skip
    writer = hub.need_writer()
    with writer.connect() as conn:
        known = set(hub.names) | store.site_ids(conn)
    try:
        meeting = schedule.add(writer, title, start, end, sites, known,
                               ZoneInfo(hub.cfg.web.timezone))  # fmt: skip
    except schedule.MeetingError as exc:
        raise HTTPException(400, str(exc)) from None
    return meeting, republish(hub)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/sites")
    def api_sites(hub: HubDep, conn: DB) -> list[dict[str, Any]]:
        return store.sites_overview(conn, hub.names)

    @router.get("/sites/{site}")
    def api_site(site: str, hub: HubDep, conn: DB) -> dict[str, Any]:
        valid_site(site)
        overview = store.sites_overview(conn, hub.names, only=site)
        if not overview:
            raise HTTPException(404, f"no site {site!r}")
        return {
            **overview[0],
            "recent": store.recent_results(conn, site),
            "gaps": store.gaps(conn, site),
            "commands": outbound.recent_commands(conn, site),
        }

    @router.get("/sites/{site}/history")
    def api_history(site: str, conn: DB, days: float = 7) -> list[dict[str, Any]]:
        valid_site(site)
        if not 0 < days <= HISTORY_LIMIT_DAYS:
            raise HTTPException(400, f"days must be more than 0 and at most {HISTORY_LIMIT_DAYS}")
        now = datetime.now(UTC)
        kinds = ["roomprobe.result.net", "roomprobe.result.audio", "roomprobe.result.monitor"]
        start, end = utc_iso(now - timedelta(days=days)), utc_iso(now + timedelta(minutes=1))
        return store.messages_between(conn, start, end, kinds, site=site)

    @router.post("/sites/{site}/commands", status_code=202)
    def api_command(site: str, body: CommandRequest, hub: HubDep) -> dict[str, Any]:
        return send_command(hub, site, body.command, body.args, by="api")

    @router.get("/commands/{msg_id}")
    def api_command_state(msg_id: str, conn: DB) -> dict[str, Any]:
        found = outbound.command_state(conn, msg_id[:64])
        if found is None:
            raise HTTPException(404, f"no command {msg_id[:64]!r}")
        return found

    @router.get("/meetings")
    def api_meetings(conn: DB) -> list[dict[str, Any]]:
        return [m.item() for m in schedule.ahead(conn)]

    @router.post("/meetings", status_code=201)
    def api_add_meeting(body: MeetingRequest, hub: HubDep) -> dict[str, Any]:
        meeting, warning = add_meeting(hub, body.title, body.start, body.end, body.sites)
        return {**meeting.item(), "published": warning is None, "warning": warning}

    @router.delete("/meetings/{meeting_id}")
    def api_remove_meeting(meeting_id: str, hub: HubDep) -> dict[str, Any]:
        if not schedule.remove(hub.need_writer(), meeting_id[:64]):
            raise HTTPException(404, f"no meeting {meeting_id[:64]!r}")
        warning = republish(hub)
        return {"removed": meeting_id, "published": warning is None, "warning": warning}

    @router.get("/meetings/{meeting_id}/summary")
    def api_meeting_summary(meeting_id: str, hub: HubDep, conn: DB) -> dict[str, Any]:
        """The stored summary once the meeting has been over a few minutes; before that one
        computed now (``state`` says which: not-started, in-progress, provisional, stored,
        final) so a person never waits on the hub's round."""
        found = meeting_summary.for_meeting(conn, meeting_id[:64], hub.names)
        if found is None:
            raise HTTPException(404, f"no meeting {meeting_id[:64]!r} is known to this hub")
        return found

    @router.get("/readiness")
    def api_readiness(hub: HubDep, conn: DB) -> dict[str, Any]:
        now = datetime.now(UTC)
        meeting, rows = readiness.next_meeting_board(conn, hub.names, now, hub.cfg.meetings)
        return {"meeting": meeting.item() if meeting else None,
                "rooms": [asdict(r) | {"actors": r.actors} for r in rows]}  # fmt: skip

    @router.get("/quarantine")
    def api_quarantine(conn: DB) -> list[dict[str, Any]]:
        return store.quarantined(conn)

    @router.get("/health")
    def api_health(request: Request, hub: HubDep, conn: DB) -> dict[str, Any]:
        summaries = getattr(request.app.state, "summaries", None)
        return {
            "hub_id": hub.cfg.hub_id,
            **store.counts(conn),
            "consumer": hub.consumer.state() if hub.consumer is not None else None,
            "alerts": hub.alerts.state() if hub.alerts is not None else None,
            "summaries": summaries.state() if summaries is not None else None,
        }

    @router.get("/alerts")
    def api_alerts(conn: DB) -> list[dict[str, Any]]:
        """The alerts open now, oldest first (docs/operators/alerts.md)."""
        return alerts.open_alerts(conn)

    return router
