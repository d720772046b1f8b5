"""The messages of a running ledger: the outbox listener, the webhook endpoints, listings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from ledger.config import Settings
from ledger.messages.endpoints import WebhookEndpoints
from ledger.messages.outbox import Outbox
from ledger.sealing import SecretBox


class Messages:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        assert settings.webhook_key_file is not None
        self.engine = engine
        self.box = SecretBox(settings.webhook_key_file)
        self.endpoints = WebhookEndpoints(engine, self.box)
        self.outbox = Outbox(self.endpoints, timedelta(seconds=settings.reminder_before_seconds))
