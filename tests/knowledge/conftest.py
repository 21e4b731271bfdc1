"""Fixtures for the core's tests: a news site on 127.0.0.1 (see ``tests/loopback_site.py``)."""

from __future__ import annotations

import pytest

from tests.loopback_site import serve_site


@pytest.fixture
def site():
    """A running loopback ``Site``, empty; publish pages with ``site.put(path, body)``."""
    with serve_site() as s:
        yield s
