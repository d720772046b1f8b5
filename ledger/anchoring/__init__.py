"""On-chain anchoring of log checkpoints: LogAnchor client, anchor worker, local dev chain."""
