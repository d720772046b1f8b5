"""How deeply JSON nests, measured without recursion.

Python's JSON parser and encoders recurse once per level, so a document nested thousands of
levels deep raises RecursionError, or with a raised recursion limit overflows the C stack
and kills the process. These functions measure the depth first, with no recursion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# A JSON string (skipped: brackets inside it do not nest) or one bracket.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPEN = frozenset(b"[{")


def text_depth(data: bytes | str, stop_above: int | None = None) -> int:
    """The nesting depth of JSON text (``[]`` and ``{}`` count one level; scalars none).

    Counting stops as soon as the depth exceeds ``stop_above``. Malformed text gets a
    depth too (unbalanced brackets are counted as they come); parsing refuses it later.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    depth = deepest = 0
    for match in _TOKEN.finditer(raw):
        char = raw[match.start()]
        if char in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        elif char != 0x22:  # a closing bracket (0x22 is '"': a string, skipped)
            depth = max(0, depth - 1)
    return deepest


def value_depth(value: Any, stop_above: int | None = None) -> int:
    """The nesting depth of a parsed JSON value (dicts and lists count one level)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if stop_above is not None and deepest > stop_above:
                return deepest
        stack.extend((child, depth) for child in children)
    return deepest
