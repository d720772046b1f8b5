"""GET /v1/chains: the block explorers configured per chain (LEDGER_EXPLORER_TX_URLS), which
the /verify page links a payout's transaction to."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.config import Settings

EXPLORERS = {1: "https://etherscan.io/tx/{tx}", 31337: "http://localhost:5100/tx/{tx}"}


def test_no_explorer_is_configured_by_default(client) -> None:
    resp = client.get("/v1/chains")
    assert resp.status_code == 200
    assert resp.json == {"chains": []}
    assert resp.headers["Cache-Control"] == "public, max-age=300"


def test_the_configured_explorers_are_listed_by_chain_id(ledger) -> None:
    from api import create_app

    configured = replace(ledger, settings=replace(ledger.settings, explorer_tx_urls=EXPLORERS))
    client = create_app(configured.settings, configured).test_client()
    assert client.get("/v1/chains").json == {
        "chains": [
            {"chain_id": 1, "explorer_tx_url": "https://etherscan.io/tx/{tx}"},
            {"chain_id": 31337, "explorer_tx_url": "http://localhost:5100/tx/{tx}"},
        ]
    }
    spec = client.get("/openapi.json").json
    assert "/v1/chains" in spec["paths"]


def test_the_variable_is_read_as_a_json_object_of_templates(monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_EXPLORER_TX_URLS", '{"1": "https://etherscan.io/tx/{tx}"}')
    assert Settings().explorer_tx_urls == {1: "https://etherscan.io/tx/{tx}"}
    monkeypatch.setenv("LEDGER_EXPLORER_TX_URLS", "")
    assert Settings().explorer_tx_urls == {}


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        '["https://etherscan.io/tx/{tx}"]',
        '{"mainnet": "https://etherscan.io/tx/{tx}"}',
        '{"0": "https://etherscan.io/tx/{tx}"}',
        '{"1": "https://etherscan.io/tx/"}',
        '{"1": "javascript:alert(1)//{tx}"}',
        '{"1": "https://etherscan.io/tx/{hash}"}',
        '{"1": 7}',
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable(monkeypatch, value: str) -> None:
    monkeypatch.setenv("LEDGER_EXPLORER_TX_URLS", value)
    with pytest.raises(ValueError, match="LEDGER_EXPLORER_TX_URLS"):
        Settings()
