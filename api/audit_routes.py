"""Regulator audit: figures bound to a signed checkpoint, and the complaint listing (JSON/CSV).

Figures are computed from the ``audit_facts`` table, which holds only what the log's leaves
say; ``ledger.complaints.figures`` computes the same figures from the leaves themselves, so a
regulator (or ``scripts/monitor.py``) can recompute every number from the checkpoint's tiles.
Definitions: docs/audit.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import marshmallow as ma
from flask import Response, request, stream_with_context
from flask.views import MethodView
from marshmallow import validate

from api.auth import require
from api.blueprints import Blueprint
from api.context import get_ledger
from api.problems import Problem
from api.schemas import Strict, choice, instant
from ledger.casework.facts import (
    ListedComplaint,
    ListingFilter,
    iter_complaints,
    list_complaints,
    sql_figures,
)
from ledger.complaints.figures import FIGURES_VERSION, Window, figures_table, format_ms, to_ms
from ledger.complaints.payloads import JURISDICTION
from ledger.complaints.service_rules import ServiceRules
from ledger.complaints.vocab import Category, Channel, Language, Outcome, Status
from ledger.logstore.store import NotFound

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/v1/audit",
    description="Regulator audit: figures recomputable from the log, complaint listing and export",
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CSV_MIMETYPE = "text/csv"


# --- schemas --------------------------------------------------------------------------------


class FiguresQuery(Strict):
    from_ = instant("start of the period (inclusive, RFC 3339); default: 1970", data_key="from")
    to = instant("end of the period (exclusive); default: as_of")
    as_of_size = ma.fields.Integer(
        validate=validate.Range(min=0),
        metadata={
            "description": "tree size of the signed checkpoint to compute from; "
            "default: the latest checkpoint"
        },
    )
    as_of = instant(
        "the instant the figures speak for (what is open, what fell due); "
        "default: now for the latest checkpoint, the checkpoint's signing time otherwise"
    )
    format = ma.fields.String(
        validate=validate.OneOf(["json", "csv"]),
        metadata={"description": "csv: one row per slice (totals, each category, channel, "
                  "language, incident), one column per figure; or send 'Accept: text/csv'"},
    )  # fmt: skip


class Durations(ma.Schema):
    count = ma.fields.Integer()
    mean_seconds = ma.fields.Float(allow_none=True)
    median_seconds = ma.fields.Float(allow_none=True)
    p90_seconds = ma.fields.Float(allow_none=True)


class FirstResponses(Durations):
    within_goal = ma.fields.Integer(metadata={"description": "before the goal promised at intake"})
    within_limit = ma.fields.Integer(metadata={"description": "before the limit (2 h)"})
    within_goal_rate = ma.fields.Float(allow_none=True)
    within_limit_rate = ma.fields.Float(allow_none=True)


class Resolutions(Durations):
    with_target = ma.fields.Integer(
        metadata={"description": "resolutions with a target (an untimed category gets one "
                  "from its handler)"}
    )  # fmt: skip
    within_target = ma.fields.Integer()
    within_limit = ma.fields.Integer()
    within_target_rate = ma.fields.Float(allow_none=True)
    within_limit_rate = ma.fields.Float(allow_none=True)


class HourTargetBreaches(ma.Schema):
    first_response = ma.fields.Integer(metadata={"description": "first responses after 2 h"})
    target_resolution = ma.fields.Integer()
    resolution_limit = ma.fields.Integer()


class ShareOfResolutions(ma.Schema):
    resolved = ma.fields.Integer()
    rate = ma.fields.Float(allow_none=True)


class Automation(ma.Schema):
    resolved_by_bot = ma.fields.Integer()
    rate = ma.fields.Float(allow_none=True)


class Decisions(ma.Schema):
    total = ma.fields.Integer()
    upheld = ma.fields.Integer()
    partially_upheld = ma.fields.Integer()
    rejected = ma.fields.Integer()
    upheld_rate = ma.fields.Float(allow_none=True)
    partially_upheld_rate = ma.fields.Float(allow_none=True)
    rejected_rate = ma.fields.Float(allow_none=True)
    root_causes = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class JurisdictionBreaches(ma.Schema):
    due = ma.fields.Integer()
    breached = ma.fields.Integer()
    breach_rate = ma.fields.Float(allow_none=True)


class Breaches(JurisdictionBreaches):
    by_jurisdiction = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(JurisdictionBreaches)
    )


class KindRedress(ma.Schema):
    payments = ma.fields.Integer()
    by_currency = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    by_asset = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


class Redress(ma.Schema):
    payments = ma.fields.Integer()
    amount_undisclosed = ma.fields.Integer(
        metadata={"description": "payments whose amount is withheld from the public leaf"}
    )
    by_currency = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "exact decimal sums per ISO 4217 currency"},
    )
    by_asset = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "exact decimal sums per crypto asset"},
    )
    by_kind = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(KindRedress),
        metadata={"description": "per compensation kind, its value (disclosed amounts)"},
    )


class Csat(ma.Schema):
    ratings = ma.fields.Integer()
    mean = ma.fields.Float(allow_none=True)
    distribution = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class Nps(ma.Schema):
    responses = ma.fields.Integer()
    promoters = ma.fields.Integer(metadata={"description": "scores of 9 and 10"})
    passives = ma.fields.Integer(metadata={"description": "scores of 7 and 8"})
    detractors = ma.fields.Integer(metadata={"description": "scores of 0 to 6"})
    score = ma.fields.Float(
        allow_none=True, metadata={"description": "% promoters - % detractors (-100 to 100)"}
    )
    distribution = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class SliceFigures(ma.Schema):
    received = ma.fields.Integer()
    open_at_end = ma.fields.Integer()
    closed = ma.fields.Integer()
    withdrawn = ma.fields.Integer()
    referred = ma.fields.Integer()
    reopened = ma.fields.Integer()
    linked_to_incidents = ma.fields.Integer()
    decisions = ma.fields.Nested(Decisions)
    time_to_first_response = ma.fields.Nested(FirstResponses)
    time_to_final_response = ma.fields.Nested(Durations)
    time_to_resolution = ma.fields.Nested(Resolutions)
    hour_target_breaches = ma.fields.Nested(HourTargetBreaches)
    first_contact_resolution = ma.fields.Nested(ShareOfResolutions)
    automation = ma.fields.Nested(Automation)
    deadline_breaches = ma.fields.Nested(Breaches)
    redress_paid = ma.fields.Nested(Redress)
    csat = ma.fields.Nested(Csat)
    csat_by_interaction = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(Csat),
        metadata={"description": "CSAT per type of the step rated (acknowledged, decision, ...)"},
    )
    nps = ma.fields.Nested(Nps, metadata={"description": "Net Promoter Score (nps_given steps)"})


def _breakdown(what: str) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(SliceFigures),
        metadata={"description": f"the same figures per {what} (every value, zeros included)"},
    )


class Period(ma.Schema):
    from_ = ma.fields.String(data_key="from", attribute="from")
    to = ma.fields.String()


class Figures(ma.Schema):
    version = ma.fields.String()
    period = ma.fields.Nested(Period)
    as_of = ma.fields.String()
    tree_size = ma.fields.Integer(allow_none=True)
    totals = ma.fields.Nested(SliceFigures)
    by_category = _breakdown("category")
    by_channel = _breakdown("channel")
    by_language = _breakdown("language")
    by_incident = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(SliceFigures),
        metadata={"description": "the same figures per incident, from each link on"},
    )


class CheckpointRef(ma.Schema):
    size = ma.fields.Integer()
    root = ma.fields.String(metadata={"description": "hex root hash"})
    note = ma.fields.String(metadata={"description": "the signed checkpoint (C2SP note)"})


class PublishedTimes(ma.Schema):
    target_seconds = ma.fields.Float(allow_none=True)
    limit_seconds = ma.fields.Float(allow_none=True)
    published_average_seconds = ma.fields.Float(
        allow_none=True,
        metadata={"description": "the playbook's published average resolution time"},
    )


class ServiceRulesRef(ma.Schema):
    name = ma.fields.String()
    first_response_goal_seconds = ma.fields.Float()
    first_response_limit_seconds = ma.fields.Float()
    by_category = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(PublishedTimes))


class FiguresResponse(ma.Schema):
    log = ma.fields.String(metadata={"description": "the log's origin"})
    checkpoint = ma.fields.Nested(CheckpointRef)
    definitions = ma.fields.String(metadata={"description": "version of the definitions"})
    figures = ma.fields.Nested(Figures)
    service_rules = ma.fields.Nested(
        ServiceRulesRef,
        metadata={"description": "the times in force (GET /v1/service-rules), to read beside "
                  "the figures: targets and the playbook's published averages. Not part of "
                  "the figures, which come from the log alone"},
    )  # fmt: skip


class ListingQuery(Strict):
    from_ = instant("received at or after (inclusive)", data_key="from")
    to = instant("received before (exclusive)")
    status = ma.fields.String(validate=choice(Status))
    category = ma.fields.String(validate=choice(Category))
    channel = ma.fields.String(validate=choice(Channel))
    language = ma.fields.String(validate=choice(Language))
    jurisdiction = ma.fields.String(validate=validate.Regexp(JURISDICTION))
    outcome = ma.fields.String(
        validate=choice(Outcome),
        metadata={"description": "the decision of the complaint's current cycle"},
    )
    overdue = ma.fields.Boolean(
        metadata={"description": "statutory final-response deadline passed, not answered"}
    )
    as_of = instant("the instant 'overdue' is judged at; default: now")
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    format = ma.fields.String(
        validate=validate.OneOf(["json", "csv"]),
        metadata={"description": "csv: every matching complaint (not paginated); "
                  "or send 'Accept: text/csv'"},
    )  # fmt: skip


class ListedItem(ma.Schema):
    reference = ma.fields.String()
    status = ma.fields.String()
    category = ma.fields.String()
    channel = ma.fields.String()
    language = ma.fields.String()
    jurisdiction = ma.fields.String()
    received_at = ma.fields.String()
    last_event_at = ma.fields.String()
    events = ma.fields.Integer()
    cycle = ma.fields.Integer()
    outcome = ma.fields.String(allow_none=True)
    responded = ma.fields.Boolean(metadata={"description": "a first response was sent"})
    final_response_due = ma.fields.String(allow_none=True)
    overdue = ma.fields.Boolean()


class Listing(ma.Schema):
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    as_of = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(ListedItem))


# --- figures ----------------------------------------------------------------------------------


@blp.route("/figures")
class FiguresResource(MethodView):
    @blp.arguments(FiguresQuery, location="query")
    @blp.response(200, FiguresResponse)
    @blp.doc(
        responses={
            "200": {
                "content": {
                    "application/json": {"schema": FiguresResponse},  # else the CSV replaces it
                    CSV_MIMETYPE: {
                        "schema": {"type": "string"},
                        "example": "slice,value,received,open_at_end,...\r\n",
                    },
                }
            }
        }
    )
    @blp.alt_response(400, description="Bad period or tree size")
    @blp.alt_response(401, description="No credentials")
    @blp.alt_response(403, description="Not a regulator")
    @blp.alt_response(404, description="No checkpoint was signed at that tree size")
    def get(self, args):
        """Audit figures for a period, as of a signed checkpoint (regulator).

        Computed only from the public fields of the log's entries below the checkpoint's
        size, so anyone holding the tiles can recompute them (``scripts/monitor.py`` does).
        Definitions: docs/audit.md.
        """
        require("regulator")
        store = get_ledger().store
        latest = store.latest_checkpoint()
        size = args.get("as_of_size", latest.size)
        if size > latest.size:
            raise Problem("tree-size-out-of-range", f"tree size {size} > log size {latest.size}")
        try:
            cp = store.checkpoint(size)
        except NotFound as exc:
            raise Problem(
                "not-found", f"no checkpoint was signed at tree size {size}; use a signed size"
            ) from exc
        as_of = args.get("as_of")
        if as_of is None:
            as_of = datetime.now(UTC) if size == latest.size else cp.created_at
        end = args.get("to") or as_of
        start = args.get("from_") or EPOCH
        if to_ms(end) <= to_ms(start):
            raise Problem("bad-request", "'to' must be after 'from'")
        window = Window(to_ms(start), to_ms(end), to_ms(as_of), size)
        figures = sql_figures(get_ledger().engine, window)
        published = _published(get_ledger().service_rules)
        if _wants_csv(args):
            return _figures_csv(figures, published, cp.size)
        return {
            "log": store.origin,
            "checkpoint": {"size": cp.size, "root": cp.root.hex(), "note": cp.note},
            "definitions": FIGURES_VERSION,
            "figures": figures,
            "service_rules": published,
        }


def _seconds(span: timedelta | None) -> float | None:
    return None if span is None else span.total_seconds()


def _published(rules: ServiceRules) -> dict:
    """The service times in force, to print beside the figures."""
    return {
        "name": rules.name,
        "first_response_goal_seconds": _seconds(rules.first_response_goal),
        "first_response_limit_seconds": _seconds(rules.first_response_limit),
        "by_category": {
            str(category): {
                "target_seconds": _seconds(times.target),
                "limit_seconds": _seconds(times.limit),
                "published_average_seconds": _seconds(times.published_average),
            }
            for category, times in rules.categories.items()
        },
    }


def _figures_csv(figures: dict, published: dict, size: int) -> Response:
    """The figures as RFC 4180 CSV, one row per slice, each category's row with the service
    times in force beside it (``service_rules.*`` columns); the period and checkpoint size are
    in the file name (the JSON form carries the signed checkpoint itself)."""
    beside = {
        **figures,
        "by_category": {
            c: {**part, "service_rules": published["by_category"].get(c, {})}
            for c, part in figures["by_category"].items()
        },
    }
    columns, rows = figures_table(beside)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    period = figures["period"]
    name = f"figures-{period['from'][:10]}-{period['to'][:10]}-size{size}.csv"
    return Response(
        buffer.getvalue(),
        mimetype=CSV_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


# --- listing ----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "reference",
    "status",
    "category",
    "channel",
    "language",
    "jurisdiction",
    "received_at",
    "last_event_at",
    "events",
    "cycle",
    "outcome",
    "responded",
    "final_response_due",
    "overdue",
)


def _item(c: ListedComplaint) -> dict:
    return {
        "reference": c.reference,
        "status": c.status,
        "category": c.category,
        "channel": c.channel,
        "language": c.language,
        "jurisdiction": c.jurisdiction,
        "received_at": format_ms(c.received_ms),
        "last_event_at": format_ms(c.last_event_ms),
        "events": c.events,
        "cycle": c.cycle,
        "outcome": c.outcome,
        "responded": c.responded,
        "final_response_due": None
        if c.final_response_due_ms is None
        else format_ms(c.final_response_due_ms),
        "overdue": c.overdue,
    }


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_lines(items: Iterator[ListedComplaint]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow(CSV_COLUMNS)
    for n, c in enumerate(items, 1):
        item = _item(c)
        writer.writerow([_csv_cell(item[k]) for k in CSV_COLUMNS])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _wants_csv(args) -> bool:
    if "format" in args:
        return args["format"] == "csv"
    best = request.accept_mimetypes.best_match(["application/json", CSV_MIMETYPE])
    return best == CSV_MIMETYPE


@blp.route("/complaints")
class AuditComplaintsResource(MethodView):
    @blp.arguments(ListingQuery, location="query")
    @blp.response(200, Listing)
    @blp.doc(
        responses={
            "200": {
                "content": {
                    "application/json": {"schema": Listing},  # else the CSV replaces it
                    CSV_MIMETYPE: {
                        "schema": {"type": "string"},
                        "example": ",".join(CSV_COLUMNS) + "\r\n",
                    },
                }
            }
        }
    )
    @blp.alt_response(401, description="No credentials")
    @blp.alt_response(403, description="Not a regulator")
    def get(self, args):
        """Complaints as they stand now, with filters (regulator); JSON pages or a CSV export.

        Only public facts (no personal data): status, category, channel, language,
        jurisdiction, receipt, last event, decision outcome of the current cycle, statutory
        due date and whether it has passed unanswered. ``?format=csv`` (or ``Accept:
        text/csv``) streams every matching complaint as RFC 4180 CSV.
        """
        require("regulator")
        now = args.get("as_of") or datetime.now(UTC)
        f = ListingFilter(
            received_from=to_ms(args["from_"]) if "from_" in args else None,
            received_to=to_ms(args["to"]) if "to" in args else None,
            status=args.get("status"),
            category=args.get("category"),
            channel=args.get("channel"),
            language=args.get("language"),
            jurisdiction=args.get("jurisdiction"),
            outcome=args.get("outcome"),
            overdue=args.get("overdue"),
        )
        engine = get_ledger().engine
        if _wants_csv(args):
            stamp = now.strftime("%Y%m%dT%H%M%SZ")
            return Response(
                stream_with_context(_csv_lines(iter_complaints(engine, f, now))),
                mimetype=CSV_MIMETYPE,
                headers={
                    "Content-Disposition": f'attachment; filename="complaints-{stamp}.csv"',
                    "Cache-Control": "no-store",
                },
            )
        page, size = args["page"], args["page_size"]
        total, rows = list_complaints(engine, f, now, offset=(page - 1) * size, limit=size)
        return {
            "total": total,
            "page": page,
            "page_size": size,
            "as_of": format_ms(to_ms(now)),
            "items": [_item(c) for c in rows],
        }
