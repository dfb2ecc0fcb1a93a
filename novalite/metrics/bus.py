"""Depth of the in-process message bus (``inproc://``): the messages waiting
in its queues, read at scrape time. A process on a broker (rabbit://) has
none of its own: the broker's own metrics tell its queue depths."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from novalite.messaging.inproc import InProcExchangeManager
from novalite.metrics import REGISTRY


class QueueDepthCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "novalite_bus_queue_depth",
            "Messages waiting in the in-process bus's queues, by exchange and topic",
            labels=["exchange", "topic"])
        for (exchange, topic), depth in sorted(InProcExchangeManager.queue_depths().items()):
            family.add_metric([exchange, topic], depth)
        yield family


REGISTRY.register(QueueDepthCollector())
