"""Evidence bundles: one signed, deterministic ZIP per complaint (verified by ``ledger.verify``).

* ``layout``  — the bundle format: file names, the files derived from the proof, the manifest
  and the text the log key signs (shared by the builder and the verifier)
* ``report``  — the human-readable report, as HTML and PDF, from the same facts
* ``bundle``  — ``build_bundle(proof, signer)`` and ``build_export(...)``: bytes in, bytes out

Nothing here touches the database or Flask: ``ledger.casework`` stores the exports and
``api/evidence_routes.py`` gathers the inputs.
See ``docs/evidence.md``.
"""
