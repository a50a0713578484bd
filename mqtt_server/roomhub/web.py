"""The hub's web side: dashboard pages, the JSON API and /metrics, on FastAPI.

Pages and API read through connections of their own (read-only for SQLite),
so a slow page never holds up the consumer's writes. The two things the
dashboard can change, meetings and commands, go through the consumer's store
and its MQTT connection (deps.Hub). Pages are rendered on the server and
refresh themselves; there is no JavaScript build to maintain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import api, line_endpoint, metrics, pages
from .alerts import AlertWatcher
from .config import HubConfig
from .consumer import Consumer
from .database import open_engine, url_for
from .deps import Hub
from .meeting_summary import Summarizer
from .outbound import Sender
from .udp_echo import UdpEcho


def create_app(
    cfg: HubConfig, consumer: Consumer | None = None, echo: UdpEcho | None = None
) -> FastAPI:
    """The app; with a ``consumer``, the app starts and stops it with itself.

    Tying the consumer to the app's lifespan means uvicorn's own SIGTERM and
    Ctrl-C handling stops it cleanly (uvicorn re-raises the signal after its
    shutdown, so code after ``uvicorn.run`` would never run).
    """
    hub = Hub(
        cfg=cfg,
        reader=open_engine(url_for(cfg.storage.path, cfg.storage.url), readonly=True),
        names={s.id: s.name for s in cfg.sites},
    )
    if consumer is not None:
        hub.consumer = consumer
        hub.writer = consumer.store.engine
        hub.sender = Sender(cfg.hub_id, consumer.client, consumer.store.engine)
        consumer.on_ready = hub.sender.publish_schedule
        # Alerts write to the consumer's store (alerts, deliveries); with several hubs on one
        # PostgreSQL each runs a watcher and a lock lets one of them do each round.
        hub.alerts = AlertWatcher(cfg, consumer.store.engine)
    # Meeting summaries are kept whether alerts are on or off, in a thread of their own: an
    # alert round may wait on a mail server, and a summary round has no reason to (see
    # meeting_summary). Only a hub that writes the store keeps them.
    summaries = Summarizer(consumer.store.engine, hub.names) if consumer is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if consumer is not None:
            consumer.start()
        if hub.alerts is not None:
            hub.alerts.start()  # does nothing with [alerts] enabled = false
        if summaries is not None:
            summaries.start()
        if echo is not None:
            echo.start()
        try:
            yield
        finally:
            if echo is not None:
                echo.stop()
            if summaries is not None:
                summaries.stop()
            if hub.alerts is not None:
                hub.alerts.stop()
            if consumer is not None:
                consumer.stop()
            hub.reader.dispose()

    app = FastAPI(
        title="roomhub", description="District hub of the meeting-room probes", lifespan=lifespan
    )
    app.state.hub = hub
    app.state.summaries = summaries  # /api/health reports its rounds
    app.include_router(line_endpoint.build_router())  # what the probes test their line against
    app.include_router(api.build_router())
    app.include_router(metrics.build_router())
    app.include_router(pages.build_router(cfg.web.timezone))
    return app
