"""Compensation paid on chain: the CompensationVault client and the claims it pays."""
