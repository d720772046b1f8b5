"""Tests of the LogAnchor contract, its build, and the anchor worker."""
