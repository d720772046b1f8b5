"""The whole flow with the files in S3-compatible object storage (moto's server over real
HTTP): upload, a step listing the file, download, the evidence bundle, erasure."""

from __future__ import annotations

import pytest

from ledger.attachments.backends import S3Backend
from ledger.config import Settings
from ledger.log.keys import create_key_file
from ledger.verify.bundle import verify_bundle
from tests.attachments.conftest import PDF, auth
from tests.conftest import ORIGIN
from tests.support.bundles import unzip


@pytest.fixture
def settings(tmp_path, database_url, s3) -> Settings:
    key_file = tmp_path / "log.key"
    create_key_file(key_file, ORIGIN)
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        log_origin=ORIGIN,
        log_key_file=key_file,
        attachments_s3=s3.env(prefix="ledger"),
    )


def test_files_live_in_the_bucket_from_upload_to_erasure(client, ledger, case, s3) -> None:
    assert isinstance(ledger.attachments.backend, S3Backend)
    listing = case.upload(client, PDF, "application/pdf", **{"X-Filename": "bank.pdf"}).json
    sha = listing["sha256"]
    assert s3.objects() == [f"ledger/{sha[:2]}/{sha[2:4]}/{sha}"]
    assert not (ledger.settings.data_dir / "attachments").exists()

    step = case.step(client, "evidence_added", {"description": "bank", "attachments": [listing]})
    assert step.status_code == 201, step.json
    r = client.get(f"/v1/complaints/{case.ref}/attachments/{sha}", headers=auth(case.secret))
    assert r.status_code == 200 and r.data == PDF

    bundle = client.post(
        f"/v1/complaints/{case.ref}/bundle", json={}, headers=auth(case.keys["legal"])
    )
    assert unzip(bundle.data)[f"attachments/{sha}"] == PDF
    vkey = str(ledger.store.signer.verifier())
    assert verify_bundle(bundle.data, log_key=vkey).ok

    r = client.post(
        f"/v1/complaints/{case.ref}/erasures",
        json={"target": step.json["event"]["leaf_hash"], "basis": "gdpr_art17"},
        headers=auth(case.keys["admin"]),
    )
    assert r.status_code == 201
    assert s3.objects() == []
    again = client.post(
        f"/v1/complaints/{case.ref}/bundle", json={}, headers=auth(case.keys["legal"])
    )
    assert not [n for n in unzip(again.data) if n.startswith("attachments/")]
    assert verify_bundle(again.data, log_key=vkey).ok
