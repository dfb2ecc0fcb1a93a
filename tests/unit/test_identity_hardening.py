"""The per-source throttle on failed password authentications, on a clock
the test moves (issue 10 item 5)."""

from __future__ import annotations

import pytest

from novalite.conf import CONF
from novalite.identity import throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limits():
    CONF.set_override("auth_throttle_burst", 3, group="identity")
    CONF.set_override("auth_throttle_rate", 6.0, group="identity")  # one per 10 s
    try:
        yield
    finally:
        CONF.clear_override("auth_throttle_burst", group="identity")
        CONF.clear_override("auth_throttle_rate", group="identity")


def test_source_is_the_ipv4_address_or_the_ipv6_slash_64():
    assert throttle.source_key("192.0.2.7") == "192.0.2.7"
    assert throttle.source_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert throttle.source_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert throttle.source_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert throttle.source_key("fe80::1%eth0") == "fe80::/64"
    assert throttle.source_key(None) == throttle.UNKNOWN_SOURCE
    assert throttle.source_key("") == throttle.UNKNOWN_SOURCE


def test_a_source_is_refused_after_its_burst_and_regains_one_per_interval(limits):
    clock = Clock()
    limiter = throttle.SourceThrottle(clock)
    for _ in range(3):
        limiter.reserve("192.0.2.7")
    with pytest.raises(throttle.Throttled) as e:
        limiter.reserve("192.0.2.7")
    assert e.value.code == 429 and e.value.retry_after == 10
    assert "192.0.2.7" in e.value.format_message()
    limiter.reserve("198.51.100.1")  # another source has its own bucket
    clock.now += 4
    with pytest.raises(throttle.Throttled) as e:
        limiter.reserve("192.0.2.7")
    assert e.value.retry_after == 6
    clock.now += 6
    limiter.reserve("192.0.2.7")
    with pytest.raises(throttle.Throttled):
        limiter.reserve("192.0.2.7")


def test_a_refund_gives_back_what_a_success_took(limits):
    limiter = throttle.SourceThrottle(Clock())
    for _ in range(20):
        limiter.reserve("192.0.2.7")
        limiter.refund("192.0.2.7")
    for _ in range(3):
        limiter.reserve("192.0.2.7")
    with pytest.raises(throttle.Throttled):
        limiter.reserve("192.0.2.7")


def test_refilled_sources_are_forgotten_and_memory_is_bounded(limits):
    clock = Clock()
    limiter = throttle.SourceThrottle(clock, max_sources=100)
    for i in range(500):
        limiter.reserve(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) <= 101
    clock.now += 30  # every bucket is full again
    limiter.reserve("192.0.2.7")
    assert len(limiter) == 1


def test_burst_zero_turns_the_throttle_off(limits):
    CONF.set_override("auth_throttle_burst", 0, group="identity")
    limiter = throttle.SourceThrottle(Clock())
    for _ in range(50):
        limiter.reserve("192.0.2.7")
    assert len(limiter) == 0
