"""A memo that computes each key once, even when threads ask for it at the same time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Once"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Once(Generic[K, V]):
    """`get(key, compute)` runs `compute` once per key; a thread asking meanwhile waits for that result instead of
    computing it again. The results stay (for the object's lifetime, or until `clear`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[K, V] = {}
        self._busy: dict[K, threading.Lock] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._done:
                return self._done[key]
            busy = self._busy.setdefault(key, threading.Lock())
        with busy:
            with self._lock:
                if key in self._done:
                    return self._done[key]
            value = compute()
            with self._lock:
                self._done[key] = value
            return value

    def peek(self, key: K) -> V | None:
        """The result for `key` if it has been computed, else None."""
        with self._lock:
            return self._done.get(key)

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self._busy.clear()
