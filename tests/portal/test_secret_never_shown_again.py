"""The capability secret is shown once, on the page that answers the filing: never in a URL,
a redirect, a log line, a cookie or any later page (also not when a form is sent again)."""

from __future__ import annotations

import logging

from tests.portal.helpers import (
    COMPLAINT,
    act,
    complaint_page,
    form_of,
    html,
    sign_in,
    tiny_png,
    tokens,
)


def test_the_secret_appears_only_on_the_filing_answer(app, staff, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    seen: list[tuple[str, str]] = []  # (what, text) of everything after the one-time page

    def record(resp, what: str) -> None:
        seen.append((what, html(resp)))
        seen.append((f"{what} headers", str(resp.headers)))

    page = html(client.get("/portal/file"))
    csrf, form_token = tokens(page)
    form = {**COMPLAINT, "csrf_token": csrf, "form_token": form_token}
    filed = client.post("/portal/file", data=form)
    text = html(filed)
    reference = text.split('data-testid="filed-reference">')[1].split("<")[0]
    secret = text.split('data-testid="filed-secret">')[1].split("<")[0]
    assert secret.startswith("cs_")
    assert "Location" not in filed.headers and secret not in str(filed.headers)

    # Sent again (a reload of the answer): the complaint, not a second display of the secret.
    again = client.post("/portal/file", data=form)
    assert again.status_code == 303
    record(again, "refiled")

    record(client.get(f"/portal/complaints/{reference}"), "complaint page")
    staff.acknowledge(reference)
    staff.request_info(reference)
    answer = act(client, reference, "answer", {"text": "Here it is."},
                 content_type="multipart/form-data")  # fmt: skip
    record(answer, "answer")
    record(client.get(answer.headers["Location"]), "after answer")
    sign_out = form_of(complaint_page(client, reference), "/portal/sign-out")
    out = client.post("/portal/sign-out", data=sign_out)
    record(out, "sign-out")
    record(client.get(out.headers["Location"]), "signed out")
    wrong = sign_in(client, reference, secret + "x")
    record(wrong, "wrong sign-in")
    right = sign_in(client, reference, secret)
    record(right, "sign-in")
    record(client.get(right.headers["Location"]), "signed in")
    record(client.get("/portal/"), "start")
    record(client.get("/portal/sign-in"), "sign-in form")

    for what, content in seen:
        assert secret not in content, what
    for cookie in client._cookies.values():
        assert secret not in cookie.value
    assert secret not in caplog.text
    for record_ in caplog.records:
        assert secret not in str(record_.args) and secret not in record_.getMessage()


def test_a_refused_sign_in_does_not_echo_the_secret(browser_client, filed) -> None:
    resp = sign_in(browser_client, "CMP-NOT-VALID", filed.secret)
    assert resp.status_code == 400
    assert filed.secret not in html(resp)


def test_uploads_never_carry_the_secret(browser_client, filed, staff) -> None:
    staff.acknowledge(filed.reference)
    staff.request_info(filed.reference)
    resp = act(
        browser_client, filed.reference, "answer",
        {"text": "see file", "files": [(__import__("io").BytesIO(tiny_png()), "shot.png",
                                        "image/png")]},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert resp.status_code == 303
    assert filed.secret not in resp.headers["Location"]
