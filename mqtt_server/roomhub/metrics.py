"""``/metrics`` for Prometheus: the hub's own health, read fresh at every scrape.

Counters come from the consumer of this process (a hub with several
consumers exposes one set per process; Prometheus sums them), gauges from
the store, so every process reports the same fleet figures. Ingest rate is
``rate(roomhub_messages_stored_total[1m])`` on the Prometheus side.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import store
from .deps import Hub, HubDep

# consumer counter -> (metric name without _total, help)
COUNTERS = {
    "received": ("roomhub_messages_received", "Messages taken from the broker"),
    "stored": ("roomhub_messages_stored", "Messages stored (each once)"),
    "duplicate": ("roomhub_messages_duplicate", "Redelivered copies dropped by msg_id"),
    "quarantined": ("roomhub_messages_quarantined", "Messages refused and kept with a reason"),
    "store_errors": ("roomhub_store_errors", "Failed commits (retried; nothing acknowledged)"),
    "batches": ("roomhub_store_batches", "Transactions committed"),
    "pruned": ("roomhub_store_pruned", "Rows removed by retention"),
}


class HubCollector(Collector):
    def __init__(self, hub: Hub):
        self.hub = hub

    def collect(self) -> Iterator[Any]:
        consumer = self.hub.consumer
        if consumer is not None:
            state = consumer.state()
            for key, (name, doc) in COUNTERS.items():
                c = CounterMetricFamily(name, doc)
                c.add_metric([], float(state.get(key, 0)))
                yield c
            g = GaugeMetricFamily("roomhub_broker_connected", "1 when subscribed to the broker")
            g.add_metric([], 1.0 if state["subscribed"] else 0.0)
            yield g
            g = GaugeMetricFamily("roomhub_ingest_queue", "Messages received, not yet committed")
            g.add_metric([], float(state["queued"]))
            yield g
        with self.hub.reader.connect() as conn:
            figures = store.counts(conn)
        for key, name, doc in (
            ("sites", "roomhub_sites_known", "Sites the hub has heard from"),
            ("online", "roomhub_sites_online", "Sites whose probe is online"),
            ("quarantined", "roomhub_quarantine_rows", "Messages kept in the quarantine"),
            ("messages", "roomhub_store_rows", "Messages in the store"),
        ):
            g = GaugeMetricFamily(name, doc)
            g.add_metric([], float(figures[key]))
            yield g
        g = GaugeMetricFamily("roomhub_sites_configured", "Sites named in the hub's config")
        g.add_metric([], float(len(self.hub.names)))
        yield g


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/metrics")
    def metrics(hub: HubDep) -> Response:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(HubCollector(hub))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
