"""axe-core accessibility checks of a live page, with the axe-core build npm installs for
``@axe-core/playwright`` (package.json): the same engine, driven from Python Playwright."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# The impacts the pages must never have (axe-core's two highest).
BLOCKING = frozenset({"serious", "critical"})
ARTIFACTS = ROOT / "test-artifacts" / "axe"


@cache
def _axe_source() -> str:
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run scripts/bootstrap.sh (npm ci)")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every axe-core violation on the page as it is now (WCAG 2.x A and AA rules).

    The engine is evaluated through the DevTools protocol, which a page's CSP does not
    govern, so the page keeps its strict policy while it is checked.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                'best-practice']},
            });
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )
    return list(result)


def assert_accessible(page: Any, name: str) -> None:
    """Fail on any serious or critical axe-core violation; every violation found is written
    to ``test-artifacts/axe/<name>.json`` for review."""
    violations = axe_violations(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(violations, indent=2), encoding="utf-8")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe-core on {name}: " + json.dumps(blocking, indent=2)
