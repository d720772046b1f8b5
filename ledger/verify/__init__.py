"""Offline verifiers: what a customer, lawyer or regulator runs with the log's key alone.

No database, no web framework, no web3 (``pip install 'complaint-ledger[verify]'`` is enough):

* ``report``    — the one report type every verifier gives (ok, failed and skipped checks)
* ``trail``     — one complaint's chain of steps, disclosed bodies and officer signatures
* ``complaint`` — a complaint proof document (``GET /v1/complaints/<ref>/proof``)
* ``bundle``    — an evidence bundle or multi-complaint export (``files`` reads them)
* ``onchain``   — a bundle's anchor and payments checked on the chain itself
* ``rpc``       — a minimal JSON-RPC reader of an EVM chain (standard library only)
* ``cli``       — the commands ``ledger-verify-bundle`` and ``ledger-verify-complaint``
"""
