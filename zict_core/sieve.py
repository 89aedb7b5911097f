"""A mapping that dispatches each item to one of several mappings (mirrors
``zict.sieve``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Generic, TypeVar

from zict_core.common import KT, VT, ZictBase, close, discard, flush, locked

MKT = TypeVar("MKT")


class Sieve(ZictBase[KT, VT], Generic[KT, VT, MKT]):
    """Store each item in one of several mappings, chosen by a selector.

    Parameters
    ----------
    mappings: Mapping
        ``{name: MutableMapping}``: where items can go.
    selector: callable
        ``selector(key, value) -> name``: the mapping that stores this item.
        Setting an existing key may move it to another mapping.

    Attributes
    ----------
    key_to_mapping: dict
        Each key -> the mapping that holds it.

    Notes
    -----
    Thread safety: the lock covers the bookkeeping plus the ``__contains__`` and
    ``__delitem__`` calls on the underlying mappings (keep those fast); their
    ``__getitem__``, ``__setitem__`` and ``update`` run without it. A key is
    registered when its write starts, so a delete during the write wins: the
    write's value is removed when it lands.

    Examples
    --------
    >>> small, large = {}, {}
    >>> d = Sieve({True: small, False: large}, lambda k, v: len(v) < 10)
    >>> d["a"] = b"tiny"
    >>> d["b"] = b"x" * 100
    >>> list(small), list(large)
    (['a'], ['b'])
    """

    #: ``{name: MutableMapping}``: where items can go.
    mappings: Mapping[MKT, MutableMapping[KT, VT]]
    #: ``selector(key, value) -> name`` of the mapping that stores the item.
    selector: Callable[[KT, VT], MKT]
    key_to_mapping: dict[KT, MutableMapping[KT, VT]]

    def __init__(
        self,
        mappings: Mapping[MKT, MutableMapping[KT, VT]],
        selector: Callable[[KT, VT], MKT],
    ):
        super().__init__()
        self.mappings = mappings
        self.selector = selector
        self.key_to_mapping = {}
        # key -> token of the latest write started on it; a write whose token is
        # no longer there was overtaken by a later write or a delete
        self._writing: dict[KT, object] = {}

    def __getitem__(self, key: KT) -> VT:
        return self.key_to_mapping[key][key]

    def _start_write(self, key: KT, value: VT) -> tuple[MutableMapping[KT, VT], object]:
        """Under the lock: choose the mapping, move the key's registration there
        (dropping the value from a previous mapping) and return a token."""
        mapping = self.mappings[self.selector(key, value)]
        # pop + insert: a rewritten key moves to the end, as in zict
        old = self.key_to_mapping.pop(key, None)
        if old is not None and old is not mapping:
            discard(old, key)
        self.key_to_mapping[key] = mapping
        token = self._writing[key] = object()
        return mapping, token

    def _end_write(
        self, key: KT, mapping: MutableMapping[KT, VT], token: object, ok: bool
    ) -> None:
        """Under the lock, after the write into *mapping* returned or raised."""
        if self._writing.get(key) is token:
            del self._writing[key]
            if not ok and key not in mapping:
                # the write failed and left nothing: forget the key
                del self.key_to_mapping[key]
        elif self.key_to_mapping.get(key) is not mapping:
            # a delete, or a write to another mapping, came after ours started:
            # whatever we stored there is stale
            discard(mapping, key)

    @locked
    def __setitem__(self, key: KT, value: VT) -> None:
        mapping, token = self._start_write(key, value)
        try:
            with self.unlock():
                mapping[key] = value
        except BaseException:
            self._end_write(key, mapping, token, ok=False)
            raise
        self._end_write(key, mapping, token, ok=True)

    @locked
    def __delitem__(self, key: KT) -> None:
        mapping = self.key_to_mapping.pop(key)
        self._writing.pop(key, None)
        discard(mapping, key)

    @locked
    def _do_update(self, items: Iterable[tuple[KT, VT]]) -> None:
        # One update() call per underlying mapping, in first-use order.
        batches: dict[int, tuple[MutableMapping[KT, VT], list[tuple[KT, VT]]]] = {}
        started = []
        ok = False
        try:
            for key, value in items:
                mapping, token = self._start_write(key, value)
                started.append((key, mapping, token))
                batches.setdefault(id(mapping), (mapping, []))[1].append((key, value))
            with self.unlock():
                for mapping, pairs in batches.values():
                    mapping.update(pairs)
            ok = True
        finally:
            for key, mapping, token in started:
                self._end_write(key, mapping, token, ok)

    def __len__(self) -> int:
        return len(self.key_to_mapping)

    def __iter__(self) -> Iterator[KT]:
        return iter(self.key_to_mapping)

    def __contains__(self, key: object) -> bool:
        return key in self.key_to_mapping

    def __str__(self) -> str:
        return f"Sieve<{self.mappings}>"

    __repr__ = __str__

    def flush(self) -> None:
        flush(*self.mappings.values())

    def close(self) -> None:
        if "mappings" in self.__dict__:
            close(*self.mappings.values())
