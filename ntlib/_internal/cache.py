"""The one bounded cache: ``bounded_cache``, for every per-signature memo in ntlib.

ntlib remembers what it works out from axis names and shapes (einsum
equations, layouts, matrix-product plans, merged sizes, funsor domains, the
``arange`` tensors of indexing) so that an operation costs microseconds.
Every such memo is a function of hashable arguments wrapped by
``bounded_cache``: at most ``CACHE_SIZE`` entries, the least recently used
dropped first (functools.lru_cache, which keeps its table in C).

Under torch.compile the memo is not read: dynamo traces the wrapped function
itself, at trace time only, so a compiled graph carries no guards on a cache's
contents and filling a cache never forces a recompile.  (torch warns about
each lru_cache it traces through; for ntlib's own memos that is the intended
behaviour, and the warning is silenced for them alone.)
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, TypeVar

__all__ = ["bounded_cache", "CACHE_SIZE", "every_cache"]

CACHE_SIZE = 4096
_CACHES: list = []
T = TypeVar("T", bound=Callable[..., Any])

warnings.filterwarnings(
    "ignore", message=r"(?s)Dynamo detected a call to a `functools.lru_cache`-wrapped "
                      r"function.*[/\\]ntlib[/\\]")


def bounded_cache(fn: T | None = None, *, maxsize: int = CACHE_SIZE) -> Any:
    """Decorator: remember ``fn``'s result per arguments, for at most ``maxsize``
    argument tuples (least recently used dropped first).  ``fn`` must be pure
    and its arguments hashable.  ``@bounded_cache`` or
    ``@bounded_cache(maxsize=n)``."""
    def wrap(f: T) -> T:
        cached = functools.lru_cache(maxsize=maxsize)(f)
        _CACHES.append(cached)
        return cached  # type: ignore[return-value]
    return wrap(fn) if fn is not None else wrap


def every_cache() -> list:
    """Every memo made by bounded_cache (for tests: each one's cache_info())."""
    return list(_CACHES)
