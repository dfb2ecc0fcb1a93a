"""The throttle on failed password authentications, per source address.

Each source (an IPv4 address, or an IPv6 /64: one host usually owns a
whole /64, so counting addresses would let it rotate them) has a token
bucket of ``[identity] auth_throttle_burst`` failures, refilled at
``auth_throttle_rate`` a minute. A password authentication takes a token
*before* anything is looked up or hashed and gives it back when the
password was right, so a throttled request costs no bcrypt and no
database query, a source cannot have more bcrypts in flight than its
bucket holds, and logging in successfully never uses the budget up.

NOTE: hand-written rather than taken from a rate-limit library (``limits``
counts hits and cannot give one back): only failures may count, yet the
token must be taken before the outcome is known. In memory, one per API
application (``novalite.api.identity.connect``), as the brief of issue 10
allows: N API workers give a source N buckets.
"""

from __future__ import annotations

import collections
import ipaddress
import math
import threading
import time
from collections.abc import Callable

from novalite import exception
from novalite.conf import CONF

# NOTE: a bound on memory whatever the number of sources: a bucket that has
# refilled is dropped anyway (a full bucket and no bucket are the same), so
# only sources that failed recently count against it.
MAX_SOURCES = 65536
UNKNOWN_SOURCE = "unknown"


class Throttled(exception.NovaliteException):
    msg_fmt = ("Too many failed authentications from %(source)s; retry after "
               "%(retry_after)s seconds.")
    code = 429

    def __init__(self, source: str, retry_after: int) -> None:
        super().__init__(source=source, retry_after=retry_after)
        self.retry_after = retry_after


def source_key(address: str | None) -> str:
    """What counts as one source: the IPv4 address, or the IPv6 /64
    (an IPv4-mapped IPv6 address is its IPv4 address)."""
    if not address:
        return UNKNOWN_SOURCE
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class SourceThrottle:
    """Token buckets of failed authentications, one per recent source."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_sources: int = MAX_SOURCES) -> None:
        self._clock = clock
        self._max = max_sources
        self._lock = threading.Lock()
        # source -> (tokens, when counted); oldest update first
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = \
            collections.OrderedDict()

    @staticmethod
    def _limits() -> tuple[int, float]:
        return CONF.identity.auth_throttle_burst, CONF.identity.auth_throttle_rate / 60.0

    def _level(self, source: str, now: float, burst: int, rate: float) -> float:
        tokens, since = self._buckets.get(source, (float(burst), now))
        return min(float(burst), tokens + (now - since) * rate)

    def _forget_full(self, now: float, burst: int, rate: float) -> None:
        while self._buckets:
            source = next(iter(self._buckets))
            if self._level(source, now, burst, rate) < burst and \
                    len(self._buckets) <= self._max:
                return
            del self._buckets[source]

    def reserve(self, source: str) -> None:
        """Take one failure's token for ``source``, or Throttled saying when
        to retry. Call ``refund`` when the authentication succeeded."""
        burst, rate = self._limits()
        if not burst:
            return
        with self._lock:
            now = self._clock()
            self._forget_full(now, burst, rate)
            level = self._level(source, now, burst, rate)
            if level < 1.0:
                raise Throttled(source, max(1, math.ceil((1.0 - level) / rate)))
            self._buckets[source] = (level - 1.0, now)
            self._buckets.move_to_end(source)

    def refund(self, source: str) -> None:
        """Give back the token a successful authentication took."""
        burst, rate = self._limits()
        if not burst:
            return
        with self._lock:
            now = self._clock()
            if source in self._buckets:
                level = min(float(burst), self._level(source, now, burst, rate) + 1.0)
                self._buckets[source] = (level, now)
                self._buckets.move_to_end(source)

    def __len__(self) -> int:
        return len(self._buckets)

