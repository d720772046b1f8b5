"""Staff steps from the console: recorded through the API's own step path with the member's
pseudonym on the log and their name in the bodies; each role sees and takes only its own
steps, checked again on every POST; staff reads are in the access log."""

from __future__ import annotations

import json

from ledger.complaints.texts import locale
from tests.support.console import act, complaint_page, form_of, html, sign_in


def _signed_in(app, login):
    client = app.test_client()
    assert sign_in(client, login).status_code == 303
    return client


def _events(ledger, reference):
    return ledger.complaints.reads.events(reference)


def _owner(env) -> dict:
    return {k: env.public[k] for k in ("owner", "how")}


def _last(ledger, reference):
    e = _events(ledger, reference)[-1]
    return e.envelope, (json.loads(e.body_jcs) if e.body_jcs is not None else None)


def test_agent_claims_acknowledges_with_preview_requests_and_escalates(
    app, ledger, staff_logins, reference
) -> None:
    agent = staff_logins["agent"]
    c = _signed_in(app, agent)
    page = complaint_page(c, reference)
    assert 'data-testid="claim-form"' in page
    assert 'data-testid="assign-form"' not in page
    assert 'data-language="pt"' in page  # the customer's language is shown

    resp = act(c, reference, "claim")
    assert resp.status_code == 303, html(resp)[:1500]
    env, body = _last(ledger, reference)
    assert env.type == "assigned"
    assert env.actor.id == agent.pseudonym and str(env.actor.role) == "agent"
    assert _owner(env) == {"owner": agent.pseudonym, "how": "claim"}
    assert body == {"owner_name": agent.display_name}
    assert agent.display_name not in json.dumps(env.public)
    page = complaint_page(c, reference)
    assert f'data-owner="{agent.pseudonym}"' in page

    # Acknowledge: the letter is previewed in Portuguese first; nothing is recorded.
    before = len(_events(ledger, reference))
    path = f"/console/complaints/{reference}/actions/acknowledge"
    tokens = form_of(page, path)
    paragraph = "Vou tratar pessoalmente da sua reclamação."
    preview = c.post(path, data={**tokens, "paragraph": paragraph, "intent": "preview"})
    assert preview.status_code == 200
    shown = html(preview)
    assert 'data-testid="letter-preview" data-language="pt"' in shown
    assert paragraph in shown and agent.display_name in shown
    assert len(_events(ledger, reference)) == before
    recorded = c.post(
        path, data={**form_of(shown, path), "paragraph": paragraph, "intent": "record"}
    )
    assert recorded.status_code == 303, html(recorded)[:1500]
    env, body = _last(ledger, reference)
    assert env.type == "acknowledged" and env.actor.id == agent.pseudonym
    assert body["responsible"] == agent.display_name and body["paragraph"] == paragraph
    assert body["message"]["language"] == "pt" and paragraph in body["message"]["text"]

    assert (
        act(c, reference, "request_info", {"request": "Envie uma captura de ecrã."}).status_code
        == 303
    )
    env, body = _last(ledger, reference)
    assert env.type == "info_requested" and body["request"] == "Envie uma captura de ecrã."

    assert act(c, reference, "note", {"text": "Checked the node: fee too low."}).status_code == 303
    env, body = _last(ledger, reference)
    assert env.type == "note_added" and body["text"].startswith("Checked")

    resp = act(
        c,
        reference,
        "escalate",
        {"level": "specialist", "specialism": "technical", "reason": "complexity"},
    )
    assert resp.status_code == 303, html(resp)[:1500]
    env, _ = _last(ledger, reference)
    assert env.type == "escalated" and env.public["specialism"] == "technical"
    assert ledger.complaints.reads.state(reference).owner is None  # waits to be claimed again
    page = complaint_page(c, reference)
    assert (
        "Checked the node" in page
        and locale("en")["categories"]["stuck_transaction"]["name"] in page
    )


def test_form_errors_and_double_submit(app, ledger, staff_logins, reference) -> None:
    c = _signed_in(app, staff_logins["agent"])
    act(c, reference, "claim")
    page = complaint_page(c, reference)
    path = f"/console/complaints/{reference}/actions/note"
    tokens = form_of(page, path)
    empty = c.post(path, data={**tokens, "text": "  "})
    assert empty.status_code == 400 and 'data-testid="error-summary"' in html(empty)
    before = len(_events(ledger, reference))
    assert c.post(path, data={**tokens, "text": "once"}).status_code == 303
    again = c.post(path, data={**tokens, "text": "once"})
    assert again.status_code == 303 and "done=already" in again.headers["Location"]
    assert len(_events(ledger, reference)) == before + 1


def test_evidence_with_a_file_and_its_download(app, ledger, staff_logins, reference) -> None:
    from tests.portal.helpers import tiny_png

    c = _signed_in(app, staff_logins["agent"])
    data = {
        "description": "Node log screenshot",
        "kind": "screenshot",
        "files": (__import__("io").BytesIO(tiny_png()), "node.png", "image/png"),
    }
    resp = act(c, reference, "evidence", data, content_type="multipart/form-data")
    assert resp.status_code == 303, html(resp)[:1500]
    env, body = _last(ledger, reference)
    assert env.type == "evidence_added" and body["attachments"][0]["name"] == "node.png"
    sha = body["attachments"][0]["sha256"]
    download = c.get(f"/console/complaints/{reference}/attachments/{sha}")
    assert download.status_code == 200 and download.data == tiny_png()
    assert download.headers["Content-Security-Policy"].startswith("sandbox")
    actions = [r.action for r in ledger.access_log.records(reference)]
    assert f"attachment:{sha[:32]}" in actions


def test_staff_reads_are_in_the_access_log(app, ledger, staff_logins, reference) -> None:
    c = _signed_in(app, staff_logins["legal"])
    complaint_page(c, reference)
    records = ledger.access_log.records(reference)
    assert [(r.role, r.principal, r.action) for r in records] == [
        ("legal", staff_logins["legal"].pseudonym, "console:complaint")
    ]


def test_an_agent_cannot_assign_and_a_legal_user_cannot_claim(
    app, ledger, staff_logins, reference
) -> None:
    agent = _signed_in(app, staff_logins["agent"])
    page = complaint_page(agent, reference)
    before = len(_events(ledger, reference))
    path = f"/console/complaints/{reference}/actions/assign"
    forged = agent.post(
        path,
        data={
            **form_of(page, f"/console/complaints/{reference}/actions/claim"),
            "owner": staff_logins["agent2"].pseudonym,
        },
    )
    assert forged.status_code == 403
    legal = _signed_in(app, staff_logins["legal"])
    page = complaint_page(legal, reference)
    assert 'data-testid="claim-form"' not in page
    note = f"/console/complaints/{reference}/actions/note"
    claim = f"/console/complaints/{reference}/actions/claim"
    assert legal.post(claim, data=form_of(page, note)).status_code == 403
    assert len(_events(ledger, reference)) == before


def test_a_supervisor_assigns_and_reassigns(app, ledger, staff_logins, reference) -> None:
    sup = _signed_in(app, staff_logins["supervisor"])
    page = complaint_page(sup, reference)
    assert 'data-testid="assign-form"' in page
    target = staff_logins["agent2"]
    assert act(sup, reference, "assign", {"owner": target.pseudonym}).status_code == 303
    env, body = _last(ledger, reference)
    assert _owner(env) == {"owner": target.pseudonym, "how": "assign"}
    assert env.actor.id == staff_logins["supervisor"].pseudonym
    assert body == {"owner_name": target.display_name}
    page = complaint_page(sup, reference)
    assert 'data-testid="reassign-form"' in page and 'data-testid="assign-form"' not in page
    other = staff_logins["agent"]
    assert act(sup, reference, "reassign", {"owner": other.pseudonym}).status_code == 303
    env, _ = _last(ledger, reference)
    assert _owner(env) == {"owner": other.pseudonym, "how": "reassign"}
    # An agent owning it cannot take it from another: no claim offered.
    agent2 = _signed_in(app, target)
    assert 'data-testid="claim-form"' not in complaint_page(agent2, reference)


def test_each_role_opens_only_its_pages(app, staff_logins, reference) -> None:
    agent = _signed_in(app, staff_logins["agent"])
    assert agent.get("/console/admin").status_code == 403
    assert agent.get("/console/supervisor").status_code == 403
    assert 'data-testid="nav-admin"' not in html(agent.get("/console/"))
    admin = _signed_in(app, staff_logins["admin"])
    assert admin.get("/console/").status_code == 303  # to the admin page
    assert admin.get("/console/admin").status_code == 200
    assert admin.get(f"/console/complaints/{reference}").status_code == 403
    assert admin.get("/console/supervisor").status_code == 403
    sup = _signed_in(app, staff_logins["supervisor"])
    assert sup.get("/console/supervisor").status_code == 200
    assert sup.get("/console/admin").status_code == 403
