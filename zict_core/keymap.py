"""A mapping that translates its keys before storing them (mirrors ``zict.keymap``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Generic, TypeVar

from zict_core.common import KT, VT, ZictBase, close, discard, flush, locked
from zict_core.func import funcname

JT = TypeVar("JT")


class KeyMap(ZictBase[KT, VT], Generic[KT, JT, VT]):
    """Wrap a mapping ``d`` whose keys are ``fn(key)`` of this mapping's keys.

    Useful to store keys of any type in a mapping that accepts fewer, e.g.
    ``KeyMap(str, File(directory))``.

    Parameters
    ----------
    fn: callable
        Turns a key of this mapping into a key of ``d``. It must be pure (the
        same key always gives the same result) and injective (two different keys
        never give the same result).
    d: MutableMapping
        The mapping that holds the values, under the translated keys.

    Attributes
    ----------
    keymap: dict
        Each key of this mapping -> its translated key in ``d``. Iteration, ``len``
        and ``in`` use it; only keys set through this ``KeyMap`` are visible.

    Examples
    --------
    >>> d = {}
    >>> z = KeyMap(str, d)
    >>> z[1] = 10
    >>> d
    {'1': 10}
    >>> z.keymap
    {1: '1'}
    """

    #: Turns a key of this mapping into a key of :attr:`d`.
    fn: Callable[[KT], JT]
    #: The mapping that holds the values, under the translated keys.
    d: MutableMapping[JT, VT]
    keymap: dict[KT, JT]

    def __init__(self, fn: Callable[[KT], JT], d: MutableMapping[JT, VT]):
        super().__init__()
        self.fn = fn
        self.d = d
        self.keymap = {}
        # key -> token of the latest write started on it (see __setitem__)
        self._writing: dict[KT, object] = {}

    @locked
    def __setitem__(self, key: KT, value: VT) -> None:
        j = self.fn(key)
        self.keymap[key] = j
        token = self._writing[key] = object()
        try:
            with self.unlock():
                self.d[j] = value
        except BaseException:
            # Forget the key unless a later write took over or d kept a value
            # (e.g. a File keeps the old one when a write fails).
            if self._writing.get(key) is token:
                del self._writing[key]
                if j not in self.d:
                    self.keymap.pop(key, None)
            raise
        if self._writing.get(key) is token:
            del self._writing[key]
        elif key not in self.keymap:
            # deleted while we wrote: our value must not survive the delete
            discard(self.d, j)

    def __getitem__(self, key: KT) -> VT:
        return self.d[self.keymap[key]]

    @locked
    def __delitem__(self, key: KT) -> None:
        j = self.keymap.pop(key)
        self._writing.pop(key, None)
        discard(self.d, j)

    def __contains__(self, key: object) -> bool:
        return key in self.keymap

    def __iter__(self) -> Iterator[KT]:
        return iter(self.keymap)

    def __len__(self) -> int:
        return len(self.keymap)

    def __str__(self) -> str:
        return f"<KeyMap: {funcname(self.fn)} {self.d}>"

    __repr__ = __str__

    def flush(self) -> None:
        flush(self.d)

    def close(self) -> None:
        if "d" in self.__dict__:
            close(self.d)
