"""Customer messages: the transactional outbox, its dispatcher, SMTP and webhooks."""
