"""Sequential RPC calls/s and casts/s over ``inproc://`` and ``fake://``.

One real oslo.messaging RPC server (threading executor) and client in this
process. Calls go one after another; casts are timed until the server has
handled them all. Counts are bounded, and each run also stops after a time
budget, so fake://'s 50 ms polling cannot make this slow.

    python benchmarks/bench_inproc_transport.py [--calls 500] [--casts 2000]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
import warnings
from typing import Any

import oslo_messaging
from oslo_config import cfg

BUDGET_S = 5.0


class Endpoint:
    def __init__(self) -> None:
        self.handled = 0
        self.cond = threading.Condition()

    def echo(self, ctxt: dict, value: Any) -> Any:
        return value

    def bump(self, ctxt: dict, value: Any) -> None:
        with self.cond:
            self.handled += 1
            self.cond.notify_all()


def transport_for(url: str) -> oslo_messaging.Transport:
    try:
        return oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    except oslo_messaging.DriverLoadFailure:
        if not url.startswith("inproc"):
            raise
        from novalite.messaging.inproc import InProcDriver  # entry point not installed

        driver = InProcDriver(cfg.CONF, oslo_messaging.TransportURL.parse(cfg.CONF, url),
                              default_exchange=cfg.CONF.control_exchange)
        return oslo_messaging.transport.RPCTransport(driver)


def bench(url: str, calls: int, casts: int) -> tuple[float, int, float, int]:
    transport = transport_for(url)
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    endpoint = Endpoint()
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=topic, server="s1"), [endpoint],
        executor="threading", access_policy=oslo_messaging.DefaultRPCAccessPolicy)
    server.start()
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic),
                                           timeout=30)
    try:
        client.call({}, "echo", value=0)  # warm up

        done_calls, start = 0, time.perf_counter()
        while done_calls < calls and time.perf_counter() - start < BUDGET_S:
            client.call({}, "echo", value=done_calls)
            done_calls += 1
        call_rate = done_calls / (time.perf_counter() - start)

        start = time.perf_counter()
        sent = 0
        while sent < casts and time.perf_counter() - start < BUDGET_S:
            client.cast({}, "bump", value=sent)
            sent += 1
        with endpoint.cond:
            endpoint.cond.wait_for(lambda: endpoint.handled >= sent, timeout=60)
        cast_rate = endpoint.handled / (time.perf_counter() - start)
        return call_rate, done_calls, cast_rate, endpoint.handled
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)  # 18.3 warns on executor=
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--casts", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'transport':<10} {'calls/s':>10} {'(n)':>6} {'casts/s':>10} {'(n)':>6}")
    for url in ("inproc://", "fake://"):
        call_rate, n_calls, cast_rate, n_casts = bench(url, args.calls, args.casts)
        print(f"{url:<10} {call_rate:>10.0f} {n_calls:>6} {cast_rate:>10.0f} {n_casts:>6}")


if __name__ == "__main__":
    main()
