"""Complaints on a running ledger: the database records and the services that write and read
them, over the pure domain in ``ledger.complaints`` and the log in ``ledger.logstore``.

* ``records``        — the ORM tables: complaints, their events, bodies, officer keys, reads
* ``service``        — ``ComplaintService``: the ``reads`` and the ``writes`` sharing one cache
* ``reads``          — a complaint's record, chain of events and state; capability checks
* ``writes``         — filing and recording steps (each checked by ``complaints.workflow``)
* ``appends``        — the hooks and the conflict refusal every casework append shares
* ``letters``        — the customer letter a step carries in its body
* ``officer_keys``   — the officer-key registry and its registrations and revocations
* ``access_log``     — who read a complaint's personal data
* ``overview``       — complaint counts for the metrics (by status, overdue)
* ``cache``          — the bounded LRU behind the in-process caches
* ``facts``          — the ``audit_facts`` rows written beside each step, and SQL figures
* ``exports``        — the stored evidence exports (one row per distinct bundle given out)
* ``proof_document`` — the complaint proof document at one checkpoint, from the store
"""
