"""Helpers shared by several test modules (test modules never import each other).

Fixtures stay in conftest.py files; they may use these modules. Their asserts are rewritten
like the tests' own (tests/__init__.py).
"""
