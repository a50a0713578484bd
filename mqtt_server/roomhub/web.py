"""The hub's web side: a JSON API and the first dashboard page, on FastAPI.

Reads through connections of its own (read-only for SQLite), so a slow page
never holds up the consumer's writes. Pages are rendered on the server
(Jinja2) and refresh themselves; there is no JavaScript build to maintain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection

from roomprobe.contract import parse_utc, topics

from . import line_endpoint, store
from .config import HubConfig
from .consumer import Consumer
from .database import open_engine, url_for
from .texts import LANGS, labels
from .udp_echo import UdpEcho


def _db(request: Request) -> Iterator[Connection]:
    """A connection for one request, in one read transaction (one consistent view)."""
    with request.app.state.reader.connect() as conn:
        yield conn


DB = Annotated[Connection, Depends(_db)]


def create_app(
    cfg: HubConfig, consumer: Consumer | None = None, echo: UdpEcho | None = None
) -> FastAPI:
    """The app; with a ``consumer``, the app starts and stops it with itself.

    Tying the consumer to the app's lifespan means uvicorn's own SIGTERM and
    Ctrl-C handling stops it cleanly (uvicorn re-raises the signal after its
    shutdown, so code after ``uvicorn.run`` would never run).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if consumer is not None:
            consumer.start()
        if echo is not None:
            echo.start()
        try:
            yield
        finally:
            if echo is not None:
                echo.stop()
            if consumer is not None:
                consumer.stop()

    app = FastAPI(
        title="roomhub", description="District hub of the meeting-room probes", lifespan=lifespan
    )
    app.state.cfg = cfg
    # Read-only: the dashboard can never change what the consumer stored.
    app.state.reader = open_engine(url_for(cfg.storage.path, cfg.storage.url), readonly=True)
    app.include_router(line_endpoint.build_router())  # what the probes test their line against
    names = {s.id: s.name for s in cfg.sites}
    templates = Environment(
        loader=FileSystemLoader(str(resources.files("roomhub") / "templates")),
        autoescape=select_autoescape(["html"]),
    )
    zone = ZoneInfo(cfg.web.timezone)

    def local_time(iso: str | None) -> str:
        """Contract times are UTC; people read their own zone, day first."""
        if not iso:
            return ""
        return parse_utc(iso).astimezone(zone).strftime("%H:%M:%S %d/%m/%Y")

    templates.filters["local_time"] = local_time

    @app.get("/api/sites")
    def api_sites(conn: DB) -> list[dict[str, Any]]:
        return store.sites_overview(conn, names)

    @app.get("/api/sites/{site}")
    def api_site(site: str, conn: DB) -> dict[str, Any]:
        if not topics.is_site_id(site):
            raise HTTPException(400, f"{site!r} is not a valid site id")
        overview = [s for s in store.sites_overview(conn, names) if s["site"] == site]
        if not overview:
            raise HTTPException(404, f"no site {site!r}")
        return {
            **overview[0],
            "recent": store.recent_results(conn, site),
            "gaps": store.gaps(conn, site),
        }

    @app.get("/api/quarantine")
    def api_quarantine(conn: DB) -> list[dict[str, Any]]:
        return store.quarantined(conn)

    @app.get("/api/health")
    def api_health(conn: DB) -> dict[str, Any]:
        return {
            "hub_id": cfg.hub_id,
            **store.counts(conn),
            "consumer": consumer.state() if consumer is not None else None,
        }

    def lamp(indicator: str, key: str | None, lang: str) -> dict[str, str] | None:
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

    @app.get("/", response_class=HTMLResponse)
    def board(conn: DB, lang: str = "vi") -> str:
        lang = lang if lang in LANGS else "vi"
        return templates.get_template("board.html").render(
            lang=lang,
            lamp=lamp,
            other_lang="en" if lang == "vi" else "vi",
            t=labels(lang),
            hub_name=cfg.name,
            sites=store.sites_overview(conn, names),
            counts=store.counts(conn),
            timezone=cfg.web.timezone,
        )

    return app
