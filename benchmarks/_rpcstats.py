"""Where a novalite process spends its CPU, by operation (diagnostics for
``bench_boot.py --rpc-stats``; the all-in-one runner installs it).

Wraps, in this process only and without changing novalite's code:

* ``http``: each API request (``Application.__call__``), by method and route;
* ``rpc-server``: each RPC dispatch (argument deserialisation, the endpoint
  method, result serialisation), by method (and ``Object.method`` for the
  conductor's object calls);
* ``rpc-client``: each ``call``/``cast`` made (argument serialisation, send,
  reply deserialisation), likewise;
* ``serializer``: ``RequestContextSerializer.serialize_entity`` /
  ``deserialize_entity`` by entity type;
* ``db``: each public function of ``novalite.db.api``.

Time is the calling thread's CPU time (``time.thread_time``), so waiting for
the GIL, a lock or another thread's answer is not counted; groups nest (an
RPC call made during an HTTP request counts in both). Every 2 s the totals
are written to the JSON file named by the environment variable
``NOVALITE_BENCH_RPCSTATS`` plus ``.<pid>``.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

_stats: dict[str, dict[str, list[float]]] = {}
_lock = threading.Lock()
_writer: threading.Thread | None = None
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _record(group: str, key: str, cpu: float, wall: float) -> None:
    global _writer
    with _lock:
        row = _stats.setdefault(group, {}).setdefault(key, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += cpu
        row[2] += wall
        if _writer is None or _writer.ident is None or not _writer.is_alive():
            _writer = threading.Thread(target=_write_loop, name="rpcstats", daemon=True)
            _writer.start()


def _write_loop() -> None:
    # NOTE: one file per process: the launcher's master records its start-up
    # too, and must not overwrite its worker's file.
    path = f"{os.environ['NOVALITE_BENCH_RPCSTATS']}.{os.getpid()}"
    while True:
        time.sleep(2)
        with _lock:
            data = json.dumps({"pid": os.getpid(), "stats": _stats})
        with open(path + ".tmp", "w") as f:
            f.write(data)
        os.replace(path + ".tmp", path)


def _timed(group: str, keyfn: Callable[..., str]) -> Callable:
    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                try:
                    key = keyfn(*args, **kwargs)
                except Exception:  # noqa: BLE001 - never break the call
                    key = "?"
                _record(group, key, time.thread_time() - c0, time.perf_counter() - w0)
        return wrapper
    return decorator


def _obj_key(method: str, kwargs: dict) -> str:
    if "objname" in kwargs:
        return f"{method} {kwargs['objname']}.{kwargs.get('objmethod')}"
    inst = kwargs.get("objinst")
    if inst is not None:
        name = (inst.obj_name() if hasattr(inst, "obj_name")
                else inst.get("versioned_object.name", "?"))
        return f"{method} {name}.{kwargs.get('objmethod')}"
    return method


def _entity_key(_self: Any, _ctxt: Any, entity: Any) -> str:
    if isinstance(entity, dict) and "versioned_object.name" in entity:
        return f"primitive {entity['versioned_object.name']}"
    if hasattr(entity, "obj_name"):
        return f"object {entity.obj_name()}"
    return type(entity).__name__


def install() -> None:
    from oslo_messaging.rpc import client as rpc_client
    from oslo_messaging.rpc import dispatcher as rpc_dispatcher

    from novalite import rpc
    from novalite.api import wsgi
    from novalite.db import api as db_api

    def http_key(_self: Any, environ: dict, _start: Any) -> str:
        path = _UUID.sub("{id}", environ.get("PATH_INFO", ""))
        return f"{environ.get('REQUEST_METHOD')} {path}"

    wsgi.Application.__call__ = _timed("http", http_key)(wsgi.Application.__call__)

    def dispatch_key(_self: Any, endpoint: Any, method: str, _ctxt: Any, args: dict) -> str:
        return f"{type(endpoint).__name__}.{_obj_key(method, args)}"

    rpc_dispatcher.RPCDispatcher._do_dispatch = _timed("rpc-server", dispatch_key)(
        rpc_dispatcher.RPCDispatcher._do_dispatch)

    for verb in ("call", "cast"):
        original = getattr(rpc_client._BaseCallContext, verb)

        def client_key(self: Any, _ctxt: Any, method: str, _verb: str = verb,
                       **kwargs: Any) -> str:
            return f"{_verb} {self.target.topic} {_obj_key(method, kwargs)}"

        setattr(rpc_client._BaseCallContext, verb, _timed("rpc-client", client_key)(original))

    ser = rpc.RequestContextSerializer
    ser.serialize_entity = _timed("serializer", lambda *a: "serialize " + _entity_key(*a))(
        ser.serialize_entity)
    ser.deserialize_entity = _timed(
        "serializer", lambda *a: "deserialize " + _entity_key(*a))(ser.deserialize_entity)

    for name, fn in list(vars(db_api).items()):
        if (name.startswith("_") or not inspect.isfunction(fn)
                or fn.__module__ != db_api.__name__):
            continue
        setattr(db_api, name, _timed("db", lambda *a, _n=name, **k: _n)(fn))
