"""A read cache in front of a slow mapping, and a mapping of weak references
(mirrors ``zict.cache``)."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from zict_core.common import KT, VT, ZictBase, close, discard, flush, locked


class Cache(ZictBase[KT, VT]):
    """Write-through cache in front of a mapping that is slow to read.

    Reads are served from ``cache`` when possible, else from ``data`` (and the
    value is then put in ``cache``). Writes and deletes go to ``data`` and keep
    ``cache`` in step with it.

    Parameters
    ----------
    data: MutableMapping
        The mapping that holds every item; expensive to read (e.g. a ``File``).
    cache: MutableMapping
        Holds copies of some values; it may drop keys on its own at any time
        (e.g. an ``LRU`` or a ``WeakValueMapping``).
    update_on_set: bool, optional
        True (default): a write also stores the value in ``cache``. False: a
        write only removes the key from ``cache``; the next read fills it.

    Notes
    -----
    Thread safety: the lock is held while ``cache`` is used and while
    ``data.__delitem__`` runs (keep those fast), not while ``data`` is read or
    written. ``cache`` never holds a value that ``data`` does not, whatever the
    interleaving of reads, writes and deletes of one key: a read or write that
    overlapped another write or delete of the same key leaves ``cache`` empty
    for that key rather than risk a stale value.

    Keys already in ``data`` when the Cache is created are readable too (zict
    3.0.0 raises KeyError for them until they are written through the Cache).

    Examples
    --------
    Keep the last 100 values read or written in memory:

    >>> from zict_core import LRU, File
    >>> d = Cache(File("mydir"), LRU(100, {}))
    >>> d["x"] = b"123"
    >>> d.cache["x"], d.data["x"]  # written through, and kept in memory
    (b'123', bytearray(b'123'))
    >>> del d.cache["x"]  # the cache may drop a key at any time
    >>> d["x"]  # then it is read from data, and cached again
    bytearray(b'123')
    >>> "x" in d.cache
    True

    Read from disk unless the value is still alive elsewhere in the program:

    >>> import pickle
    >>> from zict_core import Func
    >>> d = Cache(Func(pickle.dumps, pickle.loads, File("spill")), WeakValueMapping())
    >>> s = {1, 2, 3}
    >>> d["s"] = s
    >>> d["s"] is s  # s is alive: served from the cache
    True
    >>> del s
    >>> d["s"]  # collected: unpickled from disk
    {1, 2, 3}
    """

    #: The mapping that holds every item.
    data: MutableMapping[KT, VT]
    #: Copies of some values of :attr:`data`.
    cache: MutableMapping[KT, VT]
    #: Whether a write also stores the value in :attr:`cache`.
    update_on_set: bool
    #: key -> version, renewed when a write of the key starts, when it ends and
    #: when a read fills the cache: a read or write may fill the cache only if
    #: the version did not change while it ran. Holds the keys of ``data``
    #: written or read through this Cache and not deleted since.
    _last_updated: dict[KT, int]
    _gen: int

    def __init__(
        self,
        data: MutableMapping[KT, VT],
        cache: MutableMapping[KT, VT],
        update_on_set: bool = True,
    ):
        super().__init__()
        self.data = data
        self.cache = cache
        self.update_on_set = update_on_set
        self._gen = 0
        self._last_updated = {}

    def _new_version(self, key: KT) -> int:
        self._gen += 1
        self._last_updated[key] = self._gen
        return self._gen

    @locked
    def __getitem__(self, key: KT) -> VT:
        try:
            return self.cache[key]
        except KeyError:
            pass
        version = self._last_updated.get(key)
        untracked = version is None
        if untracked:
            version = self._new_version(key)
        try:
            with self.unlock():
                value = self.data[key]
        except KeyError:
            if untracked and self._last_updated.get(key) == version:
                del self._last_updated[key]
            raise
        if self._last_updated.get(key) == version:
            # No write or delete of the key since the read started: the value
            # is current. Take a new version, so that a write still running
            # (its data write may have landed after our read) will know that
            # the cache was filled meanwhile and drop it.
            self.cache[key] = value
            self._new_version(key)
        return value

    @locked
    def __setitem__(self, key: KT, value: VT) -> None:
        # Drop the cached value first: if the write to data fails (a full disk),
        # the cache must not keep serving a value data no longer holds.
        discard(self.cache, key)
        version = self._new_version(key)
        try:
            with self.unlock():
                self.data[key] = value
        except BaseException:
            if self._last_updated.get(key) == version and key not in self.data:
                del self._last_updated[key]
            raise

        current = self._last_updated.get(key)
        if current is None:
            # Deleted while we wrote: whatever we stored must go too.
            discard(self.data, key)
        else:
            # A new version in any case: a read that started while we wrote may
            # have read the old value, and must not put it in the cache.
            self._new_version(key)
            if current != version:
                # Another write (or a cache fill) overlapped ours: we cannot
                # know which value data kept, so the cache stays empty (the new
                # version stops the other write from filling it too).
                discard(self.cache, key)
            elif self.update_on_set:
                self.cache[key] = value

    @locked
    def __delitem__(self, key: KT) -> None:
        del self.data[key]
        self._last_updated.pop(key, None)
        discard(self.cache, key)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[KT]:
        return iter(self.data)

    def __contains__(self, key: object) -> bool:
        # never let Mapping.__contains__ read the value from data
        return key in self.data

    def __str__(self) -> str:
        return f"<Cache: data={self.data!r}, cache={self.cache!r}>"

    __repr__ = __str__

    def flush(self) -> None:
        flush(self.cache, self.data)

    def close(self) -> None:
        if "data" in self.__dict__:
            close(self.cache, self.data)


if TYPE_CHECKING:
    _WeakValueBase = weakref.WeakValueDictionary[KT, VT]
else:
    _WeakValueBase = weakref.WeakValueDictionary


class WeakValueMapping(_WeakValueBase, ZictBase[KT, VT]):
    """A :class:`weakref.WeakValueDictionary` that silently skips values that
    cannot be weakly referenced (``str``, ``int``, ``bytes``, ``tuple``, ...):
    storing one is a no-op, as if it had been collected at once.

    Meant as the ``cache`` of a :class:`Cache`: a value read from disk is reused
    for as long as something else in the program keeps it alive.

    Examples
    --------
    >>> w = WeakValueMapping()
    >>> s = {1, 2}
    >>> w["s"] = s
    >>> w["n"] = 42  # an int cannot be weakly referenced: not stored
    >>> list(w)
    ['s']
    >>> del s  # the last reference: the item goes
    >>> len(w)
    0
    """

    def __init__(
        self, other: Mapping[KT, VT] | Iterable[tuple[KT, VT]] = (), /, **kw: VT
    ):
        ZictBase.__init__(self)
        weakref.WeakValueDictionary.__init__(self)
        self.update(other, **kw)

    def __setitem__(self, key: KT, value: VT) -> None:
        try:
            super().__setitem__(key, value)
        except TypeError:  # cannot create a weak reference to this value
            # a key that held a weakly-referenceable value must not keep it
            super().pop(key, None)

    def update(self, other: Any = (), /, **kw: VT) -> None:  # type: ignore[override]
        pairs = other.items() if hasattr(other, "items") else other
        for key, value in pairs:
            self[key] = value
        for key, value in kw.items():
            self[key] = value  # type: ignore[index]

    def setdefault(self, key: KT, default: VT | None = None) -> VT | None:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            self[key] = default  # type: ignore[assignment]
            return default

    def __ior__(self, other: Any) -> WeakValueMapping[KT, VT]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __str__(self) -> str:
        return f"<WeakValueMapping: {len(self)} elements>"

    __repr__ = __str__
