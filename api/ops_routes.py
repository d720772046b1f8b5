"""Operations: ``/healthz``, ``/readyz``, Prometheus ``/metrics``, and a JSON log line per request.

* ``GET /healthz``: the process is alive (no dependency is touched).
* ``GET /readyz``: 200 when this node can serve: the database answers, the database was not
  restored without passing its check (``ledger.backup``), the log signing key is loaded, the
  latest confirmed anchor is consistent with the log (``root_at(size)`` equal), and, when
  ``LEDGER_CHAIN_RPC_URL`` is set, the chain RPC answers (that answer is reused for
  ``LEDGER_READY_CACHE_SECONDS``). Otherwise 503 problem+json whose ``not_ready`` lists what
  is not ready and ``checks`` says why.
* ``GET /metrics``: Prometheus text format. Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR``
  (``scripts/serve.sh`` does) so every worker's counters are summed. Gauges about the log
  (size, anchor lag, overdue complaints) are read from the database at scrape time, at most
  once every ``SCRAPE_TTL`` seconds per process. Contains no personal data; still, expose it
  on the internal network only, and set ``LEDGER_METRICS_TOKEN`` to require a bearer token.

Every request is timed and counted by method, route template and status, and logged as one
line (logger ``ledger.request``) with the request id, method, route template (never the raw
path: it may hold a complaint reference), status and duration.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import text

from api.context import EXTENSION, get_ledger
from api.problems import Problem, problem_response
from api.request_ids import request_id
from ledger.anchoring.models import AnchorState
from ledger.anchoring.status import latest_anchor
from ledger.backup import latest_mark
from ledger.casework.overview import complaint_counts
from ledger.messages.alerts import sla_figures
from ledger.messages.listing import outbox_summary
from ledger.payouts.models import payout_summary

disable_created_metrics()  # no *_created series: they only add noise
ops = Blueprint("ops", __name__)
OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SCRAPE_TTL = 5.0
request_log = logging.getLogger("ledger.request")
log = logging.getLogger(__name__)

# --- process metrics (summed over gunicorn workers in multiprocess mode) -------------------

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)

HTTP_REQUESTS = Counter(
    "ledger_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "endpoint", "status"],
)
HTTP_LATENCY = Histogram(
    "ledger_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "ledger_http_requests_in_flight",
    "HTTP requests being answered",
    multiprocess_mode="livesum",
)
SEQUENCER_BATCH = Histogram(
    "ledger_sequencer_batch_size",
    "Entries committed per log transaction (group commit)",
    buckets=BATCH_BUCKETS,
)


def _endpoint() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


# --- the request hooks -----------------------------------------------------------------


def _before() -> None:
    request.environ["ledger.t0"] = time.perf_counter()
    request.environ["ledger.route"] = _endpoint()  # gunicorn's access log uses it
    HTTP_IN_FLIGHT.inc()
    request.environ["ledger.in_flight"] = True


def _after(response: Response) -> Response:
    environ = request.environ
    t0 = environ.get("ledger.t0")
    elapsed = time.perf_counter() - t0 if t0 is not None else 0.0
    if environ.pop("ledger.in_flight", False):
        HTTP_IN_FLIGHT.dec()
    endpoint = environ.get("ledger.route") or _endpoint()
    method = request.method
    status = response.status_code
    try:
        HTTP_REQUESTS.labels(method, endpoint, str(status)).inc()
        HTTP_LATENCY.labels(method, endpoint).observe(elapsed)
    except Exception:  # metrics never break a response
        log.debug("metrics update failed", exc_info=True)
    level = logging.ERROR if status >= 500 and status != 503 else logging.INFO
    request_log.log(
        level,
        "request",
        extra={
            "request_id": request_id(),
            "method": method,
            "path": endpoint,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
        },
    )
    return response


def install(app: Flask) -> None:
    """Register the ops endpoints and the per-request metrics and log line on ``app``."""
    app.register_blueprint(ops)
    ledger = app.extensions[EXTENSION]
    token = ledger.settings.metrics_token
    # Only a digest of the token stays in this process's memory.
    app.extensions["metrics_token_sha256"] = (
        hashlib.sha256(token.encode()).digest() if token else None
    )
    # First, so a request refused by a later guard is still timed and counted.
    app.before_request_funcs.setdefault(None, []).insert(0, _before)
    app.after_request(_after)
    for limiter in app.extensions.get("limiter", ()):
        limiter.request_filter(lambda: request.path in OPS_PATHS)
    ledger.sequencer.on_batch = SEQUENCER_BATCH.observe  # each committed log batch's size


# --- health and readiness ----------------------------------------------------------------


@ops.get("/healthz")
def healthz() -> Response:
    resp = Response(json.dumps({"status": "ok"}), mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _check_database(ledger) -> dict[str, Any]:
    try:
        with ledger.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return {"ok": False, "detail": f"database unreachable ({type(exc).__name__})"}
    return {"ok": True}


def _check_restore(ledger) -> dict[str, Any]:
    try:
        status = latest_mark(ledger.engine)
    except Exception as exc:
        return {"ok": False, "detail": f"cannot read the restore marks ({type(exc).__name__})"}
    if not status.servable:
        return {
            "ok": False,
            "detail": f"restored from a backup and {status.state}: run scripts/backup.py verify",
        }
    return {"ok": True, "state": status.state or "never restored"}


def _check_signing_key(ledger) -> dict[str, Any]:
    store = ledger.store
    if store.signer is None:
        return {"ok": False, "detail": "the log signing key is not loaded"}
    if str(store.signer.verifier()) != str(store.verifier):
        return {"ok": False, "detail": "the signing key does not match the log's verifier key"}
    return {"ok": True, "verifier_key": str(store.verifier)}


_consistent_anchor: dict[tuple[str, int], bytes] = {}


def _check_anchor(ledger) -> dict[str, Any]:
    """The latest confirmed anchor's (size, root) must be a prefix of the log."""
    scope = current_app.extensions.get("anchor_scope")
    try:
        anchor = latest_anchor(
            ledger.engine, ledger.store.origin, state=AnchorState.CONFIRMED, scope=scope
        )
        if anchor is None:
            return {"ok": True, "anchored_size": None}
        size, root = anchor["tree_size"], bytes.fromhex(anchor["root"])
        key = (ledger.store.origin, size)
        if _consistent_anchor.get(key) == root:
            return {"ok": True, "anchored_size": size}
        log_size = ledger.store.size()
        if size > log_size:
            return {
                "ok": False,
                "detail": f"anchored size {size} is beyond the log's size {log_size}",
            }
        if ledger.store.root_at(size) != root:
            return {"ok": False, "detail": f"the log's root at size {size} differs from the anchor"}
    except Exception as exc:
        return {"ok": False, "detail": f"cannot check the anchor ({type(exc).__name__})"}
    _consistent_anchor[key] = root
    return {"ok": True, "anchored_size": size}


_chain_cache_lock = threading.Lock()


def _check_chain(settings) -> dict[str, Any] | None:
    """The chain RPC check, answered from a cache for ``LEDGER_READY_CACHE_SECONDS``: probes
    every few seconds from every balancer must not each cost an RPC round trip."""
    url = settings.chain_rpc_url
    if not url:
        return None
    cache: dict[str, tuple[float, dict[str, Any]]]
    cache = current_app.extensions.setdefault("ready_chain_cache", {})
    now = time.monotonic()
    with _chain_cache_lock:
        cached = cache.get(url)
    if cached is not None and now - cached[0] < settings.ready_cache_seconds:
        return cached[1]
    result = _probe_chain(settings, url)
    with _chain_cache_lock:
        cache[url] = (now, result)
    return result


def _probe_chain(settings, url: str) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=settings.ready_timeout) as resp:
            reply = json.loads(resp.read())
        chain_id = int(str(reply["result"]), 16)
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError) as exc:
        return {"ok": False, "detail": f"chain RPC unreachable ({type(exc).__name__})"}
    expected = settings.anchor_env.get("LEDGER_CHAIN_ID", "").strip()
    if expected.isdigit() and int(expected) != chain_id:
        return {"ok": False, "detail": f"chain RPC is chain {chain_id}, not {expected}"}
    return {"ok": True, "chain_id": chain_id}


@ops.get("/readyz")
def readyz() -> Response:
    ledger = get_ledger()
    checks: dict[str, dict[str, Any]] = {"database": _check_database(ledger)}
    if checks["database"]["ok"]:
        checks["restore"] = _check_restore(ledger)
        checks["anchor"] = _check_anchor(ledger)
    checks["signing_key"] = _check_signing_key(ledger)
    chain = _check_chain(ledger.settings)
    if chain is not None:
        checks["chain_rpc"] = chain
    not_ready = [name for name, c in checks.items() if not c["ok"]]
    if not_ready:
        resp = problem_response(
            Problem(
                "unavailable",
                "not ready: " + ", ".join(not_ready),
                headers={"Retry-After": "5", "Cache-Control": "no-store"},
                not_ready=not_ready,
                checks=checks,
            )
        )
        return resp
    resp = Response(json.dumps({"status": "ready", "checks": checks}), mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- metrics -------------------------------------------------------------------------------


class LedgerCollector:
    """Gauges read from the database at scrape time (cached ``SCRAPE_TTL`` seconds)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._cached: tuple[float, list] | None = None

    def collect(self):
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > SCRAPE_TTL:
                self._cached = (now, self._measure())
            return list(self._cached[1])

    def _measure(self) -> list:
        ledger = self.app.extensions[EXTENSION]
        origin = ledger.store.origin
        up = GaugeMetricFamily("ledger_database_up", "1 when the last scrape read the database")
        families = [up]
        try:
            families += self._log_and_anchor(ledger, origin)
            families += self._complaints(ledger)
            families += self._payouts(ledger)
            families += self._outbox(ledger)
            families += self._sla(ledger)
            up.add_metric([], 1)
        except Exception as exc:
            log.warning("metrics scrape could not read the database: %s", type(exc).__name__)
            up.add_metric([], 0)
        return families

    def _payouts(self, ledger) -> list:
        """The vault payouts the payout worker holds, by state, and how long the oldest one
        has waited to be on the log (an alert: paid on chain, or failing, but not recorded)."""
        summary = payout_summary(ledger.engine)
        by_state = GaugeMetricFamily("ledger_payouts", "Vault payouts by state", labels=["state"])
        records = summary["records"]
        assert isinstance(records, dict)  # state -> count
        for state, n in records.items():
            by_state.add_metric([state], n)
        oldest = GaugeMetricFamily(
            "ledger_payout_oldest_unrecorded_seconds",
            "Age of the oldest vault payout not yet on the log (0 if none)",
        )
        oldest.add_metric([], summary["oldest_unrecorded_seconds"])
        return [by_state, oldest]

    def _outbox(self, ledger) -> list:
        """Outbound messages by state, and how long the longest-waiting due one has waited
        (an alert: the SMTP server or a webhook receiver is down, or no dispatcher runs)."""
        summary = outbox_summary(ledger.engine)
        by_state = GaugeMetricFamily(
            "ledger_outbox_messages", "Outbound messages by state", labels=["state"]
        )
        messages = summary["messages"]
        assert isinstance(messages, dict)  # state -> count
        for state, n in messages.items():
            by_state.add_metric([state], n)
        oldest = GaugeMetricFamily(
            "ledger_outbox_oldest_pending_seconds",
            "Seconds the longest-waiting due message has waited to be sent (0 if none)",
        )
        oldest.add_metric([], summary["oldest_pending_seconds"])
        return [by_state, oldest]

    def _sla(self, ledger) -> list:
        """Open complaints per category and next clock (running, past the warning share,
        breached), and counters of SLA alerts by kind and of automatic escalations."""
        figures = sla_figures(ledger.engine, datetime.now(UTC), ledger.settings.sla_warn_share)
        labels = ["category", "clock"]
        running = GaugeMetricFamily(
            "ledger_sla_open", "Open complaints by category and next running clock", labels=labels
        )
        at_risk = GaugeMetricFamily(
            "ledger_sla_at_risk",
            "Open complaints past the warning share of their next clock, not yet breached",
            labels=labels,
        )
        breached = GaugeMetricFamily(
            "ledger_sla_breached", "Open complaints with a clock overdue or missed", labels=labels
        )
        for family, cells in ((running, figures.running), (at_risk, figures.at_risk),
                              (breached, figures.breached)):  # fmt: skip
            for cell in sorted(figures.running):
                family.add_metric(list(cell), cells.get(cell, 0))
        alerts = CounterMetricFamily(
            "ledger_sla_alerts", "SLA alerts raised, by kind", labels=["kind"]
        )
        for kind, n in sorted(figures.alerts.items()):
            alerts.add_metric([kind], n)
        escalations = CounterMetricFamily(
            "ledger_sla_escalations", "Complaints escalated automatically on a breach"
        )
        escalations.add_metric([], figures.escalations)
        return [running, at_risk, breached, alerts, escalations]

    def _log_and_anchor(self, ledger, origin: str) -> list:
        store = ledger.store
        latest = store.latest_checkpoint()
        size = GaugeMetricFamily("ledger_log_size", "Entries in the log", labels=["origin"])
        size.add_metric([origin], latest.size)
        age = GaugeMetricFamily(
            "ledger_log_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            labels=["origin"],
        )
        now = datetime.now(UTC)
        age.add_metric([origin], max(0.0, (now - latest.created_at).total_seconds()))

        scope = self.app.extensions.get("anchor_scope")
        anchor = latest_anchor(ledger.engine, origin, state=AnchorState.CONFIRMED, scope=scope)
        anchored = anchor["tree_size"] if anchor is not None else 0
        lag_entries = max(0, latest.size - anchored)
        lag_seconds = 0.0
        if lag_entries:
            first_unanchored = store.checkpoint_covering(anchored)
            lag_seconds = max(0.0, (now - first_unanchored.created_at).total_seconds())
        anchored_size = GaugeMetricFamily(
            "ledger_anchor_confirmed_size",
            "Tree size of the latest confirmed on-chain anchor",
            labels=["origin"],
        )
        anchored_size.add_metric([origin], anchored)
        lag_e = GaugeMetricFamily(
            "ledger_anchor_lag_entries",
            "Entries in the log not yet covered by a confirmed anchor",
            labels=["origin"],
        )
        lag_e.add_metric([origin], lag_entries)
        lag_s = GaugeMetricFamily(
            "ledger_anchor_lag_seconds",
            "Age of the oldest checkpoint not yet covered by a confirmed anchor (0 if none)",
            labels=["origin"],
        )
        lag_s.add_metric([origin], lag_seconds)
        return [size, age, anchored_size, lag_e, lag_s]

    def _complaints(self, ledger) -> list:
        counts = complaint_counts(ledger.engine, datetime.now(UTC))
        by_status = GaugeMetricFamily(
            "ledger_complaints", "Complaints by current status", labels=["status"]
        )
        overdue = GaugeMetricFamily(
            "ledger_complaints_overdue",
            "Complaints still awaiting a final response past their statutory date "
            "(standard: 15 business days / 8 weeks; extended: the 35-business-day limit "
            "that applies after a holding reply); reopened complaints are not counted",
            labels=["jurisdiction", "period"],
        )
        for status, count in counts.by_status.items():
            by_status.add_metric([status], count)
        for (jurisdiction, period), count in counts.overdue.items():
            overdue.add_metric([jurisdiction, period], count)
        return [by_status, overdue]


class _DefaultRegistry:
    def collect(self):
        yield from REGISTRY.collect()


def _require_metrics_token() -> None:
    """With ``LEDGER_METRICS_TOKEN`` set, /metrics needs ``Authorization: Bearer <token>``
    (compared as SHA-256 digests, in constant time)."""
    expected = current_app.extensions.get("metrics_token_sha256")
    if expected is None:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    digest = hashlib.sha256(given.strip().encode()).digest()
    if not (scheme.lower() == "bearer" and hmac.compare_digest(digest, expected)):
        raise Problem(
            "unauthorized",
            "/metrics needs its bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


@ops.get("/metrics")
def metrics() -> Response:
    _require_metrics_token()
    registry = CollectorRegistry()
    folder = get_ledger().settings.prometheus_multiproc_dir
    if folder:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=str(folder))
    else:
        registry.register(_DefaultRegistry())
    collector = current_app.extensions.get("ledger_metrics")
    if collector is None:
        collector = current_app.extensions["ledger_metrics"] = LedgerCollector(current_app)
    registry.register(collector)
    resp = Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    resp.headers["Cache-Control"] = "no-store"
    return resp
