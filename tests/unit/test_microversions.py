"""The one list of microversions (SUPPORTED): complete from 2.1 to the
maximum, each with a note, the docs generated from it, and the version
helpers the controllers use."""

from __future__ import annotations

import os

import pytest

from novalite.api import errors, microversions
from novalite.api.microversions import APIVersion

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "microversions.md")


def test_every_version_from_2_1_to_the_maximum_is_listed_once_with_a_note():
    versions = [APIVersion.parse(v) for v, _ in microversions.SUPPORTED]
    assert versions == [APIVersion(2, i) for i in range(1, 105)]
    assert str(microversions.MAX_VERSION) == "2.104"
    assert all(len(note) > 20 for _, note in microversions.SUPPORTED)


def test_docs_are_generated_from_supported():
    with open(DOC, encoding="utf-8") as f:
        assert f.read() == microversions.markdown(), \
            "run: python3 -m novalite.api.microversions > docs/microversions.md"


def test_version_helpers():
    v = APIVersion.parse("2.47")
    assert v.at_least("2.47") and v.at_least("2.9") and not v.at_least("2.48")
    assert v.matches("2.1", "2.47") and v.matches(None, None) and not v.matches("2.48")
    assert not v.matches(None, "2.46")
    # NOTE: minor versions compare as numbers, not text.
    assert APIVersion.parse("2.100") > APIVersion.parse("2.99")


def test_a_method_outside_its_versions_is_404():
    @microversions.versioned("2.26", "2.35")
    def method() -> None:
        return None

    microversions.check_method(method, APIVersion(2, 26))
    for version in (APIVersion(2, 25), APIVersion(2, 36)):
        with pytest.raises(errors.HTTPError) as raised:
            microversions.check_method(method, version)
        assert raised.value.code == 404 and str(version) in raised.value.message
