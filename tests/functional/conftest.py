import pytest

from tests.functional.stack import Stack


@pytest.fixture
def stack(tmp_path):
    s = Stack(str(tmp_path)).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def make_stack(tmp_path):
    """Build a stack with its own computes/overrides; stopped at the end."""
    made = []

    def _make(**kw):
        s = Stack(str(tmp_path), **kw).start()
        made.append(s)
        return s

    yield _make
    for s in made:
        s.stop()
