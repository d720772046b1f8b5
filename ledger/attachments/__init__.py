"""Attachments: content-addressed files (screenshots, statements) that steps commit to."""
