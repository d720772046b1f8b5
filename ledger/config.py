"""Settings from environment variables (one place; the README lists them all)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The anchor worker's variables (docs/anchoring.md). Settings keeps them as set: the worker
# parses and checks them (ledger.anchoring.config), and its errors name the variable.
ANCHOR_VARIABLES = (
    "LEDGER_CHAIN_RPC_URL",
    "LEDGER_CHAIN_ID",
    "LEDGER_ANCHOR_CONTRACT",
    "LEDGER_ANCHOR_KEY_FILE",
    "LEDGER_ANCHOR_INTERVAL_SECONDS",
    "LEDGER_ANCHOR_EVERY_ENTRIES",
    "LEDGER_ANCHOR_CONFIRMATIONS",
    "LEDGER_ANCHOR_POLL_SECONDS",
    "LEDGER_ANCHOR_SOURCE",
)
# The payout worker's variables (docs/payouts.md), kept as set like the anchor worker's and
# checked by ledger.payouts.settings. It also reads LEDGER_CHAIN_RPC_URL and LEDGER_CHAIN_ID.
PAYOUT_VARIABLES = (
    "LEDGER_CHAIN_RPC_URL",
    "LEDGER_CHAIN_ID",
    "LEDGER_PAYOUT_VAULT",
    "LEDGER_PAYOUT_KEY_FILE",
    "LEDGER_PAYOUT_SIGNING_KEY_FILE",
    "LEDGER_PAYOUT_CONFIRMATIONS",
    "LEDGER_PAYOUT_POLL_SECONDS",
    "LEDGER_PAYOUT_RETRY_MAX_SECONDS",
)

# The S3-compatible storage of attachments (docs/attachments.md); the secret key is never shown.
ATTACHMENT_S3_VARIABLES = (
    "LEDGER_ATTACHMENTS_S3_URL",
    "LEDGER_ATTACHMENTS_S3_BUCKET",
    "LEDGER_ATTACHMENTS_S3_REGION",
    "LEDGER_ATTACHMENTS_S3_PREFIX",
    "LEDGER_ATTACHMENTS_S3_ACCESS_KEY_ID",
    "LEDGER_ATTACHMENTS_S3_SECRET_ACCESS_KEY",
)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _flag(name: str, default: str) -> bool:
    return _env(name, default).strip().lower() not in ("0", "false", "no", "off", "")


def _path(name: str) -> Path | None:
    """The path in variable ``name``; None when it is unset or empty."""
    value = os.environ.get(name)
    return Path(value) if value else None


_EXPLORER_TEMPLATE = re.compile(r"^https?://[^\s{}]+(\{tx\}[^\s{}]*)+$")


def _public_url() -> str | None:
    """``LEDGER_PUBLIC_URL``: the service's address as customers reach it, without a trailing
    slash; unset or empty: None (letters then give the portal's path alone)."""
    text = _env("LEDGER_PUBLIC_URL", "").strip().rstrip("/")
    if not text:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        raise ValueError("LEDGER_PUBLIC_URL is an http(s) URL such as https://complaints.example")
    return text


def _explorer_tx_urls() -> dict[int, str]:
    """``LEDGER_EXPLORER_TX_URLS``: a JSON object, chain id -> a transaction's page on that
    chain's block explorer, ``{tx}`` standing for its hash; unset or empty: none."""
    name = "LEDGER_EXPLORER_TX_URLS"
    text = _env(name, "").strip()
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{name} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f'{name} is a JSON object such as {{"1": "https://…/tx/{{tx}}"}}')
    out: dict[int, str] = {}
    for chain, url in doc.items():
        if not re.fullmatch(r"[1-9][0-9]{0,15}", chain) or int(chain) > 2**53 - 1:
            raise ValueError(f"{name}: {chain!r} is not a chain id")
        if not isinstance(url, str) or not _EXPLORER_TEMPLATE.fullmatch(url):
            raise ValueError(f"{name}: chain {chain} needs an http(s) URL with {{tx}}")
        out[int(chain)] = url
    return out


def _present(names: tuple[str, ...]) -> dict[str, str]:
    """The variables among ``names`` that are set (empty ones included), as set."""
    return {name: os.environ[name] for name in names if name in os.environ}


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration_seconds(name: str, default: str) -> float:
    """A duration in seconds from ``name``: a number of seconds, or with a unit suffix
    (``90m``, ``36h``, ``2d``)."""
    text = _env(name, default).strip() or default
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{name} is a duration such as 172800, 48h or 2d, not {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class Settings:
    """Every setting the ledger reads from the environment; the README's table lists them."""

    data_dir: Path = field(default_factory=lambda: Path(_env("LEDGER_DATA_DIR", "data")).resolve())
    database_url: str = ""
    log_origin: str = field(
        default_factory=lambda: _env("LEDGER_LOG_ORIGIN", "ledger.example/complaints")
    )
    log_key_file: Path | None = None
    redis_url: str | None = field(default_factory=lambda: os.environ.get("LEDGER_REDIS_URL"))
    max_request_bytes: int = field(
        default_factory=lambda: int(_env("LEDGER_MAX_REQUEST_BYTES", str(64 * 1024)))
    )
    jurisdiction: str = field(default_factory=lambda: _env("LEDGER_JURISDICTION", "EU-PSD2"))
    rate_limit: str = field(
        default_factory=lambda: _env("LEDGER_RATE_LIMIT", "100/second;3000/minute")
    )
    # Evidence exports (docs/evidence.md): per authenticated principal, on top of rate_limit.
    export_rate_limit: str = field(
        default_factory=lambda: _env("LEDGER_EXPORT_RATE_LIMIT", "10/minute;100/hour")
    )
    bulk_export_rate_limit: str = field(
        default_factory=lambda: _env("LEDGER_BULK_EXPORT_RATE_LIMIT", "2/minute;10/hour")
    )
    export_retention_hours: float = field(
        default_factory=lambda: float(_env("LEDGER_EXPORT_RETENTION_HOURS", "24"))
    )
    # Filings without credentials, per client address (docs/production.md); "" = unlimited.
    anonymous_filing_limit: str = field(
        default_factory=lambda: _env("LEDGER_ANONYMOUS_FILING_LIMIT", "10/hour;50/day")
    )
    # Proxies whose X-Forwarded-For is believed (comma-separated IPs/CIDRs); default none.
    trusted_proxies: str = field(default_factory=lambda: _env("LEDGER_TRUSTED_PROXIES", ""))
    sequencer_max_batch: int = field(
        default_factory=lambda: int(_env("LEDGER_SEQUENCER_MAX_BATCH", "4096"))
    )
    # The deployment's service times (docs/complaints.md, "Service rules"): a JSON file in
    # the format of ledger.complaints.service_rules; unset: the playbook's own times. Read
    # and checked when the ledger opens (ledger.runtime), which this layer cannot import.
    service_rules_file: Path | None = field(default_factory=lambda: _path("LEDGER_SERVICE_RULES"))
    # Idempotency records: keyed with this server secret (mode 0600), kept this many seconds.
    server_key_file: Path | None = None
    idempotency_ttl: int = field(
        default_factory=lambda: int(_env("LEDGER_IDEMPOTENCY_TTL", str(24 * 3600)))
    )

    # Production (see docs/production.md): schema, database pool, logs, readiness.
    auto_migrate: bool = field(default_factory=lambda: _flag("LEDGER_AUTO_MIGRATE", "1"))
    db_pool_size: int = field(default_factory=lambda: int(_env("LEDGER_DB_POOL_SIZE", "10")))
    db_max_overflow: int = field(default_factory=lambda: int(_env("LEDGER_DB_MAX_OVERFLOW", "10")))
    db_pool_timeout: float = field(
        default_factory=lambda: float(_env("LEDGER_DB_POOL_TIMEOUT", "10"))
    )
    db_connect_timeout: int = field(
        default_factory=lambda: int(_env("LEDGER_DB_CONNECT_TIMEOUT", "5"))
    )
    # Seconds a starting API worker waits for an unreachable database (wsgi.py); 0: no limit.
    startup_db_wait: float = field(
        default_factory=lambda: float(_env("LEDGER_STARTUP_DB_WAIT", "0"))
    )
    log_level: str = field(default_factory=lambda: _env("LEDGER_LOG_LEVEL", "INFO").upper())
    log_format: str = field(default_factory=lambda: _env("LEDGER_LOG_FORMAT", "json").lower())
    chain_rpc_url: str | None = field(
        default_factory=lambda: os.environ.get("LEDGER_CHAIN_RPC_URL", "").strip() or None
    )
    ready_timeout: float = field(default_factory=lambda: float(_env("LEDGER_READY_TIMEOUT", "2")))
    ready_cache_seconds: float = field(
        default_factory=lambda: float(_env("LEDGER_READY_CACHE_SECONDS", "5"))
    )
    # Bearer token /metrics requires when set (unset: /metrics is open, as before).
    metrics_token: str | None = field(
        default_factory=lambda: os.environ.get("LEDGER_METRICS_TOKEN", "").strip() or None,
        repr=False,
    )
    # prometheus_client's folder where every gunicorn worker's metrics are summed (serve.sh).
    prometheus_multiproc_dir: Path | None = field(
        default_factory=lambda: _path("PROMETHEUS_MULTIPROC_DIR")
    )
    # TrueType font of the evidence report's PDF; unset: DejaVu Sans, else reportlab's Vera.
    pdf_font: Path | None = field(default_factory=lambda: _path("LEDGER_PDF_FONT"))
    # Its bold face; unset: pdf_font itself (ignored without pdf_font).
    pdf_font_bold: Path | None = field(default_factory=lambda: _path("LEDGER_PDF_FONT_BOLD"))
    # Attachments (docs/attachments.md): the largest file, the local folder (unset:
    # <data>/attachments) and, when LEDGER_ATTACHMENTS_S3_URL is set, the S3-compatible
    # bucket instead (ATTACHMENT_S3_VARIABLES as set, checked by ledger.attachments.config).
    attachment_max_bytes: int = field(
        default_factory=lambda: int(_env("LEDGER_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
    )
    attachments_dir: Path | None = field(default_factory=lambda: _path("LEDGER_ATTACHMENTS_DIR"))
    attachments_s3: Mapping[str, str] = field(
        default_factory=lambda: _present(ATTACHMENT_S3_VARIABLES), repr=False, hash=False
    )
    # The anchor worker's variables (ANCHOR_VARIABLES) as set, for AnchorSettings and
    # AnchorScope (ledger.anchoring); not shown: the RPC URL may carry an API key.
    anchor_env: Mapping[str, str] = field(
        default_factory=lambda: _present(ANCHOR_VARIABLES), repr=False, hash=False
    )
    # The payout worker's variables (PAYOUT_VARIABLES) as set, for PayoutSettings
    # (ledger.payouts.settings); not shown, as anchor_env.
    payout_env: Mapping[str, str] = field(
        default_factory=lambda: _present(PAYOUT_VARIABLES), repr=False, hash=False
    )
    # Block explorers per chain id, for the links of the /verify page (GET /v1/chains) and of
    # the customer's payment letter.
    explorer_tx_urls: Mapping[int, str] = field(default_factory=_explorer_tx_urls, hash=False)
    # Where customers reach this service (scheme://host[/prefix]): letters link to its /portal.
    public_url: str | None = field(default_factory=_public_url)

    # The customer portal (docs/portal.md): session lifetime and idle timeout, Secure cookies
    # even over plain HTTP (behind a TLS proxy), and sign-in attempts per client address.
    portal_session_hours: float = field(
        default_factory=lambda: float(_env("LEDGER_PORTAL_SESSION_HOURS", "12"))
    )
    portal_idle_minutes: float = field(
        default_factory=lambda: float(_env("LEDGER_PORTAL_IDLE_MINUTES", "30"))
    )
    portal_secure_cookies: bool = field(
        default_factory=lambda: _flag("LEDGER_PORTAL_SECURE_COOKIES", "0")
    )
    portal_signin_limit: str = field(
        default_factory=lambda: _env("LEDGER_PORTAL_SIGNIN_LIMIT", "10/minute;50/hour")
    )
    # The staff console (docs/console.md): sign-in attempts per client address (on top of
    # each account's own lockout, LEDGER_STAFF_MAX_FAILURES).
    console_signin_limit: str = field(
        default_factory=lambda: _env("LEDGER_CONSOLE_SIGNIN_LIMIT", "10/minute;50/hour")
    )

    # Customer messages (docs/messages.md): the SMTP server (unset: the local mail server
    # on LEDGER_MAIL_PORT), the sender, the outbox's retries and the info-request reminder.
    smtp_url: str | None = field(
        default_factory=lambda: os.environ.get("LEDGER_SMTP_URL", "").strip() or None,
        repr=False,  # may carry a password
    )
    mail_from: str = field(
        default_factory=lambda: _env("LEDGER_MAIL_FROM", "complaints@ledger.example").strip()
    )
    mail_port: int | None = field(
        default_factory=lambda: int(_env("LEDGER_MAIL_PORT", "0").strip() or "0") or None
    )
    outbox_max_attempts: int = field(
        default_factory=lambda: int(_env("LEDGER_OUTBOX_MAX_ATTEMPTS", "8"))
    )
    outbox_backoff_seconds: float = field(
        default_factory=lambda: float(_env("LEDGER_OUTBOX_BACKOFF_SECONDS", "30"))
    )
    outbox_lease_seconds: float = field(
        default_factory=lambda: float(_env("LEDGER_OUTBOX_LEASE_SECONDS", "120"))
    )
    outbox_poll_seconds: float = field(
        default_factory=lambda: float(_env("LEDGER_OUTBOX_POLL_SECONDS", "1"))
    )
    reminder_before_seconds: float = field(
        default_factory=lambda: _duration_seconds("LEDGER_REMINDER_BEFORE", "2d")
    )
    # The key that encrypts webhook endpoints' signing secrets at rest (mode 0600).
    webhook_key_file: Path | None = None
    # The worklist's search keys (docs/sla.md): HMAC key of the customer e-mail and transaction
    # hashes staff search by (32 bytes, mode 0600; unset: <data>/lookup.key).
    lookup_key_file: Path | None = None
    # SLA alerts (docs/sla.md): warn at this share of a clock's span, scanned this often by
    # the dispatcher.
    sla_warn_share: float = field(
        default_factory=lambda: float(_env("LEDGER_SLA_WARN_SHARE", "0.75"))
    )
    sla_scan_seconds: float = field(
        default_factory=lambda: float(_env("LEDGER_SLA_SCAN_SECONDS", "60"))
    )

    # Staff accounts (docs/staff.md): the key sealing their TOTP secrets (mode 0600), the
    # console session's lifetime and idle timeout, and the lockout after repeated failures.
    staff_key_file: Path | None = None
    staff_session_hours: float = field(
        default_factory=lambda: float(_env("LEDGER_STAFF_SESSION_HOURS", "10"))
    )
    staff_idle_minutes: float = field(
        default_factory=lambda: float(_env("LEDGER_STAFF_IDLE_MINUTES", "30"))
    )
    staff_max_failures: int = field(
        default_factory=lambda: int(_env("LEDGER_STAFF_MAX_FAILURES", "5"))
    )
    staff_lockout_minutes: float = field(
        default_factory=lambda: float(_env("LEDGER_STAFF_LOCKOUT_MINUTES", "15"))
    )

    def engine_options(self) -> dict:
        """Pool settings for ``ledger.db.make_engine`` (PostgreSQL; SQLite needs none)."""
        if not self.database_url.startswith("postgresql"):
            return {}
        return {
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_max_overflow,
            "pool_timeout": self.db_pool_timeout,
            "connect_timeout": self.db_connect_timeout,
        }

    def __post_init__(self) -> None:
        if not self.database_url:
            url = os.environ.get("LEDGER_DATABASE_URL") or (
                f"sqlite:///{self.data_dir / 'ledger.sqlite3'}"
            )
            object.__setattr__(self, "database_url", url)
        if self.log_key_file is None:
            key = os.environ.get("LEDGER_LOG_KEY_FILE") or str(self.data_dir / "log.key")
            object.__setattr__(self, "log_key_file", Path(key))
        if self.server_key_file is None:
            key = os.environ.get("LEDGER_SERVER_KEY_FILE") or str(self.data_dir / "server.key")
            object.__setattr__(self, "server_key_file", Path(key))
        if self.webhook_key_file is None:
            key = os.environ.get("LEDGER_WEBHOOK_KEY_FILE") or str(self.data_dir / "webhook.key")
            object.__setattr__(self, "webhook_key_file", Path(key))
        if self.staff_key_file is None:
            key = os.environ.get("LEDGER_STAFF_KEY_FILE") or str(self.data_dir / "staff.key")
            object.__setattr__(self, "staff_key_file", Path(key))
        if self.staff_max_failures < 1 or self.staff_lockout_minutes <= 0:
            raise ValueError(
                "LEDGER_STAFF_MAX_FAILURES must be at least 1 and "
                "LEDGER_STAFF_LOCKOUT_MINUTES positive"
            )
        if self.staff_session_hours <= 0 or self.staff_idle_minutes <= 0:
            raise ValueError(
                "LEDGER_STAFF_SESSION_HOURS and LEDGER_STAFF_IDLE_MINUTES must be positive"
            )
        if self.lookup_key_file is None:
            key = os.environ.get("LEDGER_LOOKUP_KEY_FILE") or str(self.data_dir / "lookup.key")
            object.__setattr__(self, "lookup_key_file", Path(key))
        if not 0 < self.sla_warn_share < 1 or self.sla_scan_seconds <= 0:
            raise ValueError(
                "LEDGER_SLA_WARN_SHARE must be between 0 and 1 (exclusive) and "
                "LEDGER_SLA_SCAN_SECONDS positive"
            )
        if self.outbox_max_attempts < 1 or self.outbox_backoff_seconds < 0:
            raise ValueError(
                "LEDGER_OUTBOX_MAX_ATTEMPTS must be at least 1 and "
                "LEDGER_OUTBOX_BACKOFF_SECONDS not negative"
            )
        if self.idempotency_ttl <= 0:
            raise ValueError("LEDGER_IDEMPOTENCY_TTL must be a positive number of seconds")


def _optional_float(name: str) -> float | None:
    value = _env(name, "").strip()
    return float(value) if value else None


@dataclass(frozen=True)
class RunSettings:
    """The run command's own switches (``scripts/run.sh``): the defaults of its flags."""

    # Where the API listens, and its gunicorn worker processes.
    host: str = field(default_factory=lambda: _env("LEDGER_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("LEDGER_PORT", "8000")))
    workers: int = field(default_factory=lambda: int(_env("LEDGER_WORKERS", "2")))
    # Port of the development anvil (unused with LEDGER_CHAIN_RPC_URL).
    dev_chain_port: int = field(default_factory=lambda: int(_env("LEDGER_DEV_CHAIN_PORT", "8545")))
    # The development anvil's block interval in seconds; None: the run command chooses.
    dev_chain_block_time: float | None = field(
        default_factory=lambda: _optional_float("LEDGER_DEV_CHAIN_BLOCK_TIME")
    )
    # Seed the demo complaints the first time the data folder is used (LEDGER_DEMO=0: no).
    demo: bool = field(default_factory=lambda: _env("LEDGER_DEMO", "1") != "0")
    # The compensation vault and its payout worker on the development chain (LEDGER_PAYOUTS=0:
    # neither); in production the worker runs when LEDGER_PAYOUT_KEY_FILE is set.
    payouts: bool = field(default_factory=lambda: _env("LEDGER_PAYOUTS", "1") != "0")


@dataclass(frozen=True)
class MonitorSettings:
    """The outside monitor's defaults for ``--log-key`` and ``--api-key``."""

    # The log's verifier key, obtained out of band.
    log_key: str | None = field(default_factory=lambda: os.environ.get("LEDGER_MONITOR_LOG_KEY"))
    # A regulator API key for /v1/audit/figures.
    api_key: str | None = field(
        default_factory=lambda: os.environ.get("LEDGER_MONITOR_API_KEY"), repr=False
    )
