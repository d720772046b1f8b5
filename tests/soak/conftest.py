"""The soak restarts PostgreSQL and kills servers: run it last in its session."""

from __future__ import annotations


def pytest_collection_modifyitems(session, config, items) -> None:
    soak = [item for item in items if "tests/soak/" in item.nodeid]
    if soak:
        rest = [item for item in items if "tests/soak/" not in item.nodeid]
        items[:] = rest + soak
