"""What every route of the hub's web side needs: the config, the store, the sender."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Connection, Engine

from roomprobe.contract import topics

from .alerts import AlertWatcher
from .config import HubConfig
from .consumer import Consumer
from .outbound import Sender


@dataclass
class Hub:
    """The running hub as the routes see it."""

    cfg: HubConfig
    reader: Engine  # read-only: a page can never change what the consumer stored
    writer: Engine | None = None  # the consumer's store: meetings and commands are written here
    consumer: Consumer | None = None
    sender: Sender | None = None
    alerts: AlertWatcher | None = None
    names: dict[str, str] = field(default_factory=dict)

    def need_sender(self) -> Sender:
        if self.sender is None:
            raise HTTPException(503, "this hub runs without a broker connection")
        return self.sender

    def need_writer(self) -> Engine:
        if self.writer is None:
            raise HTTPException(503, "this hub runs without its store's writer")
        return self.writer


def _hub(request: Request) -> Hub:
    return request.app.state.hub


def _db(request: Request) -> Iterator[Connection]:
    """A connection for one request, in one read transaction (one consistent view)."""
    with request.app.state.hub.reader.connect() as conn:
        yield conn


HubDep = Annotated[Hub, Depends(_hub)]
DB = Annotated[Connection, Depends(_db)]


def valid_site(site: str) -> str:
    if not topics.is_site_id(site):
        raise HTTPException(400, f"{site[:80]!r} is not a valid site id")
    return site
