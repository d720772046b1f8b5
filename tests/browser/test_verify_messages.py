"""The /verify page's checks of the new payloads agree with the Python domain's: a message's
public fields and body, a score, the customer's contact (its e-mail pattern, compiled from
rules.json into the browser's RegExp) and the responsible person's name."""

from __future__ import annotations

import hashlib

from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import parse_envelope
from ledger.complaints.payloads import validate_body
from ledger.complaints.reference import format_reference
from ledger.log.canonical import canonical_json

TEXT = "Dear Ana,\n\nWe have closed your complaint."
MESSAGE = {
    "state": "closed",
    "channel": "email",
    "template": "closure",
    "language": "en",
    "for_seq": 6,
    "text_sha256": hashlib.sha256(TEXT.encode()).hexdigest(),
    "outcome": "delivered",
    "message_id": "msg_" + "ab" * 16,
    "attempts": 2,
}
# (event type, actor role, public, whether payloads.validate_public accepts it)
PUBLIC_CASES: list[tuple[str, str, dict, bool]] = [
    ("message_sent", "system", MESSAGE, True),
    ("message_sent", "system", {**MESSAGE, "channel": "webhook", "outcome": "failed"}, True),
    ("message_sent", "system", {**MESSAGE, "template": "Closure"}, False),
    ("message_sent", "system", {**MESSAGE, "template": "x" * 65}, False),
    ("message_sent", "system", {**MESSAGE, "for_seq": -1}, False),
    ("message_sent", "system", {**MESSAGE, "attempts": 0}, False),
    ("message_sent", "system", {**MESSAGE, "message_id": "msg_" + "AB" * 16}, False),
    ("message_sent", "system", {**MESSAGE, "text_sha256": "00" * 31}, False),
    ("message_sent", "system", {**MESSAGE, "outcome": "bounced"}, False),
    ("message_sent", "system", {**MESSAGE, "to": "ana@example.org"}, False),
    ("message_sent", "system", {k: v for k, v in MESSAGE.items() if k != "attempts"}, False),
    ("nps_given", "customer", {"state": "closed", "nps": 0}, True),
    ("nps_given", "customer", {"state": "closed", "nps": 10}, True),
    ("nps_given", "customer", {"state": "closed", "nps": 11}, False),
    ("nps_given", "customer", {"state": "closed", "nps": True}, False),
    ("nps_given", "customer", {"state": "closed", "nps": 9, "comment": "good"}, False),
]
EMAILS = [
    "ana@example.org",
    "ana.silva+complaints@mail.example.org",
    "user@localhost",
    "o'brien@example.ie",
    "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 61,  # 320
    "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 62,  # 321
    "ana@",
    "@example.org",
    "ana silva@example.org",
    "ana@exa mple.org",
    "ana@-example.org",
    "ana@example.org\n",
    "ana@@example.org",
    "ana@example..org",
]
BODY_CASES: list[tuple[str, dict]] = [
    *[("received", {"description": "x", "contact": {"email": e, "consent": True}})
      for e in EMAILS],
    ("received", {"description": "x", "contact": {"name": "Ana", "consent": False}}),
    ("received", {"description": "x", "contact": {"name": "Ana", "phone": "+351"}}),
    ("received", {"description": "x", "contact": {"consent": "yes"}}),
    ("received", {"description": "x", "contact": {"channel": "sms", "consent": True}}),
    ("received", {"description": "x", "contact": {"name": "x" * 201, "consent": True}}),
    ("received", {"description": "x", "contact": []}),
    ("acknowledged", {"responsible": "Rui Costa"}),
    ("acknowledged", {"responsible": ""}),
    ("acknowledged", {"responsible": "x" * 201}),
    ("message_sent", {"to": "ana@example.org", "subject": "Closed", "text": TEXT}),
    ("message_sent", {"to": "ana@example.org", "subject": "Closed"}),
    ("message_sent", {"to": "ana@example.org", "subject": " ", "text": TEXT}),
]  # fmt: skip

PUBLIC_CHECK = """
async ({leaves}) => leaves.map((leaf) => {
  try {
    window.VerifyCore.parseEnvelope(leaf);
    return null;
  } catch (e) {
    return e.code || String(e);
  }
})
"""
BODY_CHECK = """
async ({cases}) => cases.map(([type, body]) => {
  try {
    window.VerifyCore.checkBody(type, body);
    return null;
  } catch (e) {
    return e.code || String(e);
  }
})
"""


def _leaf(event_type: str, role: str, public: dict) -> str:
    envelope = {
        "v": 1,
        "log": "scenarios.ledger.example/log",
        "complaint": format_reference(hashlib.sha256(b"complaint").digest()),
        "seq": 7,
        "prev": "0" * 64,
        "type": event_type,
        "at": "2026-01-05T10:00:00.000Z",
        "actor": {"role": role, "id": "dispatcher" if role == "system" else role},
        "commitment": "1" * 64,
        "public": public,
    }
    return canonical_json(envelope).decode()


def _python_accepts_leaf(leaf: str) -> bool:
    try:
        parse_envelope(leaf.encode())
    except ComplaintError:
        return False
    return True


def _python_accepts_body(event_type: str, body: dict) -> bool:
    try:
        validate_body(event_type, body)
    except ComplaintError:
        return False
    return True


def test_browser_and_python_agree_on_messages_scores_and_contacts(visit) -> None:
    leaves = [_leaf(et, role, public) for et, role, public, _ in PUBLIC_CASES]
    python = [_python_accepts_leaf(leaf) for leaf in leaves]
    assert python == [ok for *_, ok in PUBLIC_CASES]
    bodies = [_python_accepts_body(et, body) for et, body in BODY_CASES]
    assert bodies.count(True) == 10 and bodies.count(False) == len(BODY_CASES) - 10, bodies

    v = visit()
    v.open()
    browser = v.page.evaluate(PUBLIC_CHECK, {"leaves": leaves})
    pairs = list(zip(browser, PUBLIC_CASES, strict=True))
    assert [(code is None) for code in browser] == python, pairs
    checked = v.page.evaluate(BODY_CHECK, {"cases": [list(case) for case in BODY_CASES]})
    wrong = [
        (case, code)
        for case, code, ok in zip(BODY_CASES, checked, bodies, strict=True)
        if (code is None) != ok
    ]
    assert wrong == []
    assert v.errors == []
