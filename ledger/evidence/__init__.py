"""Evidence bundles: one signed, deterministic ZIP per complaint, and its offline verifier.

* ``layout``  — the bundle format: file names, the files derived from the proof, the manifest
  and the text the log key signs (shared by the builder and the verifier)
* ``report``  — the human-readable report, as HTML and PDF, from the same facts
* ``bundle``  — ``build_bundle(proof, signer)`` and ``build_export(...)``: bytes in, bytes out
* ``rpc``     — a minimal JSON-RPC reader of an EVM chain (for ``verify`` with ``--rpc``)
* ``verify``  — ``verify_bundle(...)``: every hash, signature, proof and, optionally, the chain
* ``exports`` — the stored exports (database): one row per distinct bundle given out

Apart from ``exports``, nothing here touches the database or Flask;
``api/evidence_routes.py`` gathers the inputs.
See ``docs/evidence.md``.
"""
