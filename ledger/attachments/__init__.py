"""Attachments: content-addressed files (screenshots, statements) that steps commit to.

``store.AttachmentStore`` (the Ledger's ``attachments``) takes uploads checked by ``media``
into a ``backends`` storage (a local folder or S3-compatible object storage, chosen by
``config``) with a row per complaint and file in ``models``; the write path checks a step's
listed files against those rows (``store.check_uploaded``) and an erasure marks them erased
(``store.mark_erased``) for the purge to delete. See docs/attachments.md.
"""
