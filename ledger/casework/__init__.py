"""Complaints on a running ledger: the database records and the services that write and read
them, over the pure domain in ``ledger.complaints`` and the log in ``ledger.logstore``.

* ``records``        — the ORM tables: complaints, their events, bodies, officer keys, reads
* ``service``        — the write path (every step checked by ``complaints.workflow`` first)
  and the reads
* ``facts``          — the ``audit_facts`` rows written beside each step, and SQL figures
* ``exports``        — the stored evidence exports (one row per distinct bundle given out)
* ``proof_document`` — the complaint proof document at one checkpoint, from the store
"""
