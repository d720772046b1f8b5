"""The operator's command-line tools: one module per tool, each with ``main(argv) -> int``.

``scripts/<tool>.py`` runs the same ``main``; so does ``python -m ledger.cli.<tool>``.
"""
