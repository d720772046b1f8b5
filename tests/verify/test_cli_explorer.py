"""``ledger-verify-bundle --explorer CHAIN_ID=URL``: parsed into the options the payout checks
read, and a malformed one refused before any work."""

from __future__ import annotations

from ledger.verify.cli import _explorers, bundle_main


def test_explorer_arguments_become_a_mapping() -> None:
    assert _explorers([]) == {}
    assert _explorers(["1=https://etherscan.io/tx/{tx}", "31337=http://127.0.0.1/tx/{tx}"]) == {
        1: "https://etherscan.io/tx/{tx}",
        31337: "http://127.0.0.1/tx/{tx}",
    }
    for bad in ("etherscan", "x=https://e/tx/{tx}", "1=https://e/tx/", "1=ftp://e/{tx}"):
        assert _explorers([bad]) is None, bad


def test_a_malformed_explorer_is_refused(tmp_path, capsys) -> None:
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(b"PK")
    assert bundle_main([str(bundle), "--explorer", "1=https://e/tx/"]) == 2
    assert "--explorer" in capsys.readouterr().err
