"""A small thread-safe LRU map for the in-process caches of the complaint services."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``size`` entries; storing one more drops the least recently used."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V, merge: Callable[[V, V], V] | None = None) -> None:
        """Store ``value``; with ``merge``, store ``merge(current, value)`` if ``key`` is held
        (decided under the cache's lock, so concurrent writers cannot interleave)."""
        with self._lock:
            current = self._items.get(key)
            if merge is not None and current is not None:
                value = merge(current, value)
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._items.pop(key, None)
