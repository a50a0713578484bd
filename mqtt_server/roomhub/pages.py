"""The dashboard's pages: board, room, readiness, meeting schedule and summaries, quarantine.

Rendered on the server (Jinja2, autoescaped) in Vietnamese unless ``?lang=en``.
Forms post back and are answered with a redirect (so a reload never sends a
command twice); the page a form lands on says what happened.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from roomprobe.contract import parse_utc, utc_iso

from . import (
    alerts,
    api,
    charts,
    meeting_summary,
    monthly,
    outbound,
    readiness,
    report,
    schedule,
    store,
)
from .deps import DB, HubDep, valid_site
from .texts import LANGS, in_language, labels

PAST_DAYS = 30  # the meetings page lists the meetings of this many days back


def _lamp(indicator: str, key: str | None, lang: str) -> dict[str, str] | None:
    """The box's light as the room sees it: colour, pattern and meaning (the legend's)."""
    from roomprobe.leds import legend

    try:
        st = legend.state(indicator, key or "")
    except KeyError:
        return None
    i = 0 if lang == "vi" else 1
    pattern = legend.PATTERN_NAMES[st.pattern][i]
    return {
        "colour": st.colour,
        "pattern": st.pattern.name.lower(),
        "title": f"{st.meaning[i]} ({legend.COLOUR_NAMES[st.colour][i]}, {pattern})",
    }


def _lang(lang: str) -> str:
    return lang if lang in LANGS else "vi"


def build_router(timezone: str) -> APIRouter:
    router = APIRouter()
    templates = Environment(
        loader=FileSystemLoader(str(resources.files("roomhub") / "templates")),
        autoescape=select_autoescape(["html"]),
    )
    zone = ZoneInfo(timezone)

    def local_time(iso: str | None) -> str:
        """Contract times are UTC; people read their own zone, day first."""
        if not iso:
            return ""
        return parse_utc(iso).astimezone(zone).strftime("%H:%M:%S %d/%m/%Y")

    templates.filters["local_time"] = local_time

    def render(name: str, request: Request, hub: HubDep, lang: str, page: str,
               **values: Any) -> str:  # fmt: skip
        other = "en" if lang == "vi" else "vi"
        query = dict(request.query_params) | {"lang": other}
        query.pop("notice", None)
        query.pop("error", None)
        # The summaries' words and the readiness button's live beside the summary's own
        # (meeting_summary.LABELS); the page sees one catalogue.
        t = labels(lang) | in_language(meeting_summary.LABELS, lang)
        return templates.get_template(name).render(
            lang=lang, t=t, page=page, hub_name=hub.cfg.name, timezone=timezone,
            lang_query="&".join(f"{k}={quote(str(v))}" for k, v in query.items()),
            notice=t.get(request.query_params.get("notice", ""), None),
            error=request.query_params.get("error"), lamp=_lamp, names=hub.names, **values,
        )  # fmt: skip

    def back(path: str, lang: str, **params: str) -> RedirectResponse:
        query = "&".join(f"{k}={quote(v)}" for k, v in {"lang": lang, **params}.items())
        return RedirectResponse(f"{path}?{query}", status_code=303)

    @router.get("/", response_class=HTMLResponse)
    def board(request: Request, hub: HubDep, conn: DB, lang: str = "vi") -> str:
        lang = _lang(lang)
        sites = store.sites_overview(conn, hub.names)
        names = {x["site"]: x["name"] for x in sites}
        open_alerts = []
        for a in alerts.open_alerts(conn):  # the alerts' own words, as they were sent
            title, _ = alerts.compose(a["kind"], "opened", a["site"],
                                      names.get(a["site"], a["site"]), a["detail"],
                                      a["opened_at"], None, zone)  # fmt: skip
            open_alerts.append({**a, "title": title[lang],
                                "actors": a["detail"].get("actors") or []})  # fmt: skip
        problem = hub.consumer.store_problem if hub.consumer is not None else None
        return render("board.html", request, hub, lang, "/", sites=sites, alerts=open_alerts,
                      counts=store.counts(conn), store_problem=problem)  # fmt: skip

    @router.get("/sites/{site}", response_class=HTMLResponse)
    def room(request: Request, site: str, hub: HubDep, conn: DB, lang: str = "vi",
             days: int = 1) -> str:  # fmt: skip
        lang = _lang(lang)
        valid_site(site)
        days = days if days in (1, 7, 30) else 1
        found = store.sites_overview(conn, hub.names, only=site)
        if not found:
            raise HTTPException(404, labels(lang)["error.no_site"])
        now = datetime.now(UTC)
        history = store.messages_between(
            conn, utc_iso(now - timedelta(days=days)), utc_iso(now + timedelta(minutes=1)),
            ["roomprobe.result.net", "roomprobe.result.audio", "roomprobe.result.monitor"],
            site=site,
        )  # fmt: skip
        line = hub.cfg.line
        drawn = {
            "speed": charts.speed_chart(
                history, line.target_download_mbps, line.target_upload_mbps, lang, zone
            ),
            "quality": charts.quality_chart(history, lang, zone),
            "audio": charts.audio_chart(history, lang, zone),
        }
        commands = outbound.recent_commands(conn, site, limit=10)
        return render("room.html", request, hub, lang, "", s=found[0], charts=drawn, days=days,
                      recent=store.recent_results(conn, site, limit=30),
                      gaps=store.gaps(conn, site), commands=commands,
                      waiting=any(c["state"] == "waiting" for c in commands))  # fmt: skip

    @router.post("/sites/{site}/run-test")
    def run_test(site: str, hub: HubDep, tests: Annotated[str, Form()] = "net,audio",
                 lang: str = "vi"):  # fmt: skip
        wanted = [k for k in tests.split(",") if k in ("net", "audio")] or ["net", "audio"]
        return _command(hub, site, "run-test", {"tests": wanted}, _lang(lang))

    @router.post("/sites/{site}/meeting-mode")
    def meeting_mode(site: str, hub: HubDep, on: Annotated[str, Form()], lang: str = "vi"):
        return _command(hub, site, "meeting-mode", {"on": on == "true"}, _lang(lang))

    @router.post("/sites/{site}/ready")
    def ready(site: str, hub: HubDep, to: Annotated[str, Form()] = "room", lang: str = "vi"):
        """A full readiness run now; from the readiness board, back to the board, where the
        result shows once the probe has finished (the room page shows the probe's reply)."""
        page = "/readiness" if to == "readiness" else None
        return _command(hub, site, "ready", {}, _lang(lang), page, "cmd.ready_sent")

    def _command(hub: HubDep, site: str, command: str, args: dict, lang: str,
                 page: str | None = None, notice: str = "cmd.sent_notice"):  # fmt: skip
        page = page or f"/sites/{quote(site, safe='')}"
        try:
            api.send_command(hub, site, command, args, by="dashboard")
        except HTTPException as exc:
            return back(page, lang, error=str(exc.detail))
        return back(page, lang, notice=notice)

    @router.get("/readiness", response_class=HTMLResponse)
    def readiness_page(request: Request, hub: HubDep, conn: DB, lang: str = "vi") -> str:
        lang = _lang(lang)
        now = datetime.now(UTC)
        meeting, rooms = readiness.next_meeting_board(conn, hub.names, now, hub.cfg.meetings)
        states = (readiness.READY, readiness.NOT_READY, readiness.UNKNOWN)
        counts = {state: sum(r.state == state for r in rooms) for state in states}
        return render("readiness.html", request, hub, lang, "/readiness",
                      meeting=meeting.item() if meeting else None, rooms=rooms,
                      counts=counts)  # fmt: skip

    @router.get("/meetings", response_class=HTMLResponse)
    def meetings_page(request: Request, hub: HubDep, conn: DB, lang: str = "vi") -> str:
        lang = _lang(lang)
        rooms = {s["site"]: s["name"] for s in store.sites_overview(conn, hub.names)}
        now = datetime.now(UTC)
        recent = schedule.between(conn, now - timedelta(days=PAST_DAYS), now)
        past = [m for m in reversed(recent) if m.end <= now]  # newest first
        counts = meeting_summary.stored_counts(conn, [m.id for m in past])
        return render("meetings.html", request, hub, lang, "/meetings", rooms=rooms,
                      meetings=[m.item() for m in schedule.ahead(conn)],
                      past=[m.item() for m in past], summaries=counts)  # fmt: skip

    @router.get("/meetings/{meeting_id}", response_class=HTMLResponse)
    def meeting_page(request: Request, meeting_id: str, hub: HubDep, conn: DB,
                     lang: str = "vi") -> str:  # fmt: skip
        """What each room's probe saw before and during the meeting (meeting_summary)."""
        lang = _lang(lang)
        words = in_language(meeting_summary.LABELS, lang)
        found = meeting_summary.for_meeting(conn, meeting_id[:64], hub.names)
        if found is None:
            raise HTTPException(404, words["summary.no_meeting"])
        i = LANGS.index(lang)
        rooms = [{**r, "cells": meeting_summary.describe(r, i, local_time)} for r in found["rooms"]]
        note = words[f"summary.state.{found['state']}"].format(at=local_time(found["computed_at"]))
        live = found["state"] in ("not-started", "in-progress", "provisional")
        return render("meeting.html", request, hub, lang, "/meetings", summary=found, rooms=rooms,
                      note=note, refresh=live)  # fmt: skip

    @router.post("/meetings")
    def add_meeting(
        hub: HubDep,
        title: Annotated[str, Form()],
        day: Annotated[str, Form(alias="date")],
        start: Annotated[str, Form()],
        end: Annotated[str, Form()],
        sites: Annotated[list[str] | None, Form()] = None,
        lang: str = "vi",
    ):
        lang = _lang(lang)
        try:
            starts = _local(day, start, zone)
            ends = _local(day, end, zone)
        except ValueError:
            return back("/meetings", lang, error=f"{day} {start}–{end}: not a date and times")
        if ends <= starts:
            ends += timedelta(days=1)  # 22:00-01:00 runs past midnight
        try:
            _, warning = api.add_meeting(hub, title, starts, ends, sites or [])
        except HTTPException as exc:
            return back("/meetings", lang, error=str(exc.detail))
        return back("/meetings", lang, notice="meeting.unsent" if warning else "meeting.saved")

    @router.post("/meetings/{meeting_id}/delete")
    def delete_meeting(meeting_id: str, hub: HubDep, lang: str = "vi"):
        lang = _lang(lang)
        if not schedule.remove(hub.need_writer(), meeting_id[:64]):
            return back("/meetings", lang, error=f"no meeting {meeting_id[:64]}")
        warning = api.republish(hub)
        return back("/meetings", lang, notice="meeting.unsent" if warning else "meeting.deleted")

    @router.get("/reports", response_class=HTMLResponse)
    def reports_page(request: Request, hub: HubDep, lang: str = "vi") -> str:
        lang = _lang(lang)
        year, month = report.last_full_month(timezone=timezone)
        months = []
        for _ in range(12):  # the last twelve months, newest first
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        now = datetime.now(zone)
        return render("reports.html", request, hub, lang, "/reports",
                      current=f"{now:%Y-%m}", months=months)  # fmt: skip

    @router.get("/reports/{filename}")
    def report_file(filename: str, hub: HubDep, lang: str = "vi") -> Response:
        """Built on demand (seconds for a district's month); nothing is kept."""
        from . import report_pdf

        lang = _lang(lang)
        month, _, fmt = filename.partition(".")
        if fmt not in ("pdf", "csv", "faults.csv", "meetings.csv"):
            raise HTTPException(404, "reports come as .pdf, .csv, .faults.csv or .meetings.csv")
        try:
            built = monthly.build(hub.cfg, hub.reader, monthly.parse_month(month))
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        name = f"roomhub-report-{month}-{lang}"
        if fmt == "pdf":
            body, media = report_pdf.render_pdf(built, lang), "application/pdf"
        elif fmt == "csv":
            body, media = report_pdf.render_csv(built, lang).encode(), "text/csv; charset=utf-8"
        else:
            kind = fmt.split(".")[0]  # faults, meetings
            name = f"roomhub-{kind}-{month}-{lang}"
            render = report_pdf.render_faults_csv if kind == "faults" else (
                report_pdf.render_meetings_csv)  # fmt: skip
            body, media = render(built, lang).encode(), "text/csv; charset=utf-8"
        suffix = "pdf" if fmt == "pdf" else "csv"
        return Response(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{name}.{suffix}"'})  # fmt: skip

    @router.get("/quarantine", response_class=HTMLResponse)
    def quarantine_page(request: Request, hub: HubDep, conn: DB, lang: str = "vi") -> str:
        lang = _lang(lang)
        return render("quarantine.html", request, hub, lang, "/quarantine",
                      rows=store.quarantined(conn))  # fmt: skip

    return router


def _local(day: str, clock: str, zone: ZoneInfo) -> datetime:
    """A date and a time as typed in the form, in the hub's zone."""
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tzinfo=zone)
