"""Shared base class and helpers of every zict_core mapping (mirrors ``zict.common``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from enum import Enum
from functools import wraps
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeVar, cast

T = TypeVar("T")
KT = TypeVar("KT")
VT = TypeVar("VT")

if TYPE_CHECKING:
    from typing_extensions import ParamSpec, Self

    P = ParamSpec("P")


class NoDefault(Enum):
    """Sentinel type for "no argument given" (distinct from ``None``)."""

    nodefault = None


nodefault = NoDefault.nodefault


class ZictBase(MutableMapping[KT, VT]):
    """Base class of the pure-Python zict_core mappings.

    The compiled mappings (:class:`~zict_core.LRU`, :class:`~zict_core.Buffer`)
    cannot inherit from a Python class; they implement the same interface and are
    registered as virtual subclasses, so ``isinstance(x, ZictBase)`` holds for them.

    Examples
    --------
    A mapping of one's own, with the lock, ``discard``, ``update`` and the
    context manager of every zict_core mapping:

    >>> from collections import UserDict
    >>> from zict_core.common import ZictBase, locked
    >>> class Counts(ZictBase, UserDict):
    ...     def __init__(self):
    ...         ZictBase.__init__(self)
    ...         UserDict.__init__(self)
    ...
    ...     @locked  # the whole method holds self.lock
    ...     def increment(self, key):
    ...         self[key] = self.get(key, 0) + 1
    >>> with Counts() as c:  # leaving the block calls c.close()
    ...     c.increment("x")
    ...     c.increment("x")
    ...     c.discard("y")  # absent: nothing happens
    ...     c.update({"y": 10}, z=20)
    ...     print(dict(c))
    {'x': 2, 'y': 10, 'z': 20}
    """

    lock: threading.RLock

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__ = state
        self.lock = threading.RLock()

    def update(  # type: ignore[override]
        self,
        other: Mapping[KT, VT] | Iterable[tuple[KT, VT]] = (),
        /,
        **kwargs: VT,
    ) -> None:
        """Like :meth:`dict.update`; every pair goes through :meth:`_do_update`."""
        pairs = other.items() if hasattr(other, "items") else other
        self._do_update(chain(pairs, kwargs.items()))  # type: ignore[arg-type]

    def _do_update(self, items: Iterable[tuple[KT, VT]]) -> None:
        """Store each ``(key, value)`` of *items*; subclasses override it for speed."""
        for key, value in items:
            self[key] = value

    def discard(self, key: KT) -> None:
        """Delete *key* if it is present, without ever reading its value
        (unlike ``pop(key, None)``)."""
        discard(self, key)

    def close(self) -> None:
        """Release the system resources this mapping holds, if any."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @contextmanager
    def unlock(self) -> Iterator[None]:
        """Inside a :func:`locked` method: release the lock for the duration of the
        ``with`` block and take it back afterwards, even on an exception."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()


def close(*objs: Any) -> None:
    """Call ``close()`` on each of *objs* that has one.

    >>> import io
    >>> from zict_core.common import close
    >>> f = io.BytesIO()
    >>> close(f, {})  # a dict has no close(): skipped
    >>> f.closed
    True
    """
    for obj in objs:
        if hasattr(obj, "close"):
            obj.close()


def flush(*objs: Any) -> None:
    """Call ``flush()`` on each of *objs* that has one."""
    for obj in objs:
        if hasattr(obj, "flush"):
            obj.flush()


def discard(m: MutableMapping[KT, VT], key: KT) -> None:
    """Delete *key* from *m* if present; never calls ``m.__getitem__``.

    >>> from zict_core.common import discard
    >>> d = {"x": 1}
    >>> discard(d, "x")
    >>> discard(d, "x")
    >>> d
    {}
    """
    try:
        del m[key]
    except KeyError:
        pass


def locked(func: Callable[P, T]) -> Callable[P, T]:
    """Method decorator: run the whole method holding ``self.lock``."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        self = cast(ZictBase, args[0])
        with self.lock:
            return func(*args, **kwargs)

    return wrapper
