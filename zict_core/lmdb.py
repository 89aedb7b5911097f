"""A mapping stored in an LMDB database (mirrors ``zict.lmdb``)."""

from __future__ import annotations

import errno
import os
import pathlib
import sys
from collections.abc import ItemsView, Iterable, Iterator, ValuesView
from typing import Any, Union

from zict_core.common import ZictBase

BytesLike = Union[bytes, bytearray, memoryview]


def _import_lmdb() -> Any:
    try:
        import lmdb
    except ImportError as e:
        raise ImportError(
            "zict_core.LMDB needs the lmdb package: pip install 'zict-core[lmdb]' "
            "(or pip install lmdb)"
        ) from e
    return lmdb


def _value(value: object) -> BytesLike:
    if isinstance(value, (bytes, bytearray)):
        return value
    if isinstance(value, memoryview):
        return value if value.c_contiguous else value.tobytes()
    raise TypeError(
        f"LMDB values must be bytes, bytearray or memoryview, not {type(value).__name__}"
    )


class LMDB(ZictBase[str, bytes]):
    """Mutable mapping stored in an `LMDB <https://www.symas.com/lmdb>`_ database,
    through the ``lmdb`` package (``pip install 'zict-core[lmdb]'``).

    Keys are strings (1 to 511 bytes once UTF-8 encoded, LMDB's limit); values are
    bytes-like, read back as ``bytes``.

    Parameters
    ----------
    directory: str or pathlib.Path
        The database directory; created if missing, reopened if it exists.
    map_size: int, optional
        The largest size the database may grow to. On Linux and macOS the file
        grows as needed up to it; the default is 1 TiB (1 GiB on 32-bit
        systems). On Windows the file takes this size at once; the default is
        10 MiB, so set it explicitly.

    Notes
    -----
    Writes are not synced to disk one by one (``sync=False``, as in zict):
    :meth:`flush` makes everything written so far durable. ``update`` writes all
    its items in one transaction: either all are stored or, if one is of the
    wrong type, none. Reads and writes are each a transaction of their own, but
    the class as a whole is not meant to be shared between threads. Using an LMDB
    after :meth:`close` raises ``OSError(EBADF)`` naming it.

    Examples
    --------
    >>> z = LMDB("mydb")
    >>> z["x"] = b"123"
    >>> z.update({"y": b"4", "z": bytearray(b"56")})  # one transaction
    >>> z["x"], sorted(z)
    (b'123', ['x', 'y', 'z'])
    >>> z.close()
    >>> z["x"]
    Traceback (most recent call last):
      ...
    OSError: [Errno 9] <LMDB: mydb, closed> is closed
    """

    #: The database directory (as a str).
    directory: str
    #: The open ``lmdb.Environment``.
    db: Any

    def __init__(self, directory: str | pathlib.Path, map_size: int | None = None):
        lmdb = _import_lmdb()
        super().__init__()
        if map_size is None:
            if sys.platform == "win32":
                map_size = 10 * 2**20
            else:
                map_size = min(2**40, sys.maxsize // 4)
        self.directory = os.fspath(directory)
        self._closed = False
        self.db = lmdb.open(
            self.directory, subdir=True, map_size=map_size, sync=False, writemap=True
        )
        self._max_key_size = self.db.max_key_size()

    def _env(self) -> Any:
        if self._closed:
            raise OSError(errno.EBADF, f"{self!r} is closed")
        return self.db

    def _key(self, key: object) -> bytes | None:
        """The encoded key, or None if no such key can be stored."""
        if not isinstance(key, str):
            return None
        try:
            encoded = key.encode("utf-8")
        except UnicodeEncodeError:
            return None
        if not 0 < len(encoded) <= self._max_key_size:
            return None
        return encoded

    def _key_to_write(self, key: object) -> bytes:
        if not isinstance(key, str):
            raise TypeError(f"LMDB keys must be str, not {type(key).__name__}")
        encoded = self._key(key)
        if encoded is None:
            key.encode("utf-8")  # raises UnicodeEncodeError for lone surrogates
            raise ValueError(
                f"LMDB keys must be 1 to {self._max_key_size} bytes once UTF-8 "
                f"encoded; got {len(key.encode('utf-8'))} bytes"
            )
        return encoded

    def __getitem__(self, key: str) -> bytes:
        env = self._env()
        encoded = self._key(key)
        if encoded is None:
            raise KeyError(key)
        with env.begin() as txn:
            value = txn.get(encoded)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: BytesLike) -> None:
        env = self._env()
        encoded = self._key_to_write(key)
        data = _value(value)
        with env.begin(write=True) as txn:
            txn.put(encoded, data)

    def _do_update(self, items: Iterable[tuple[str, BytesLike]]) -> None:
        # One transaction, filled as items arrive (a Func upstream never has
        # more than one dumped value alive); an error aborts all of it.
        env = self._env()
        with env.begin(write=True) as txn:
            for key, value in items:
                txn.put(self._key_to_write(key), _value(value))

    def __delitem__(self, key: str) -> None:
        env = self._env()
        encoded = self._key(key)
        if encoded is None:
            raise KeyError(key)
        with env.begin(write=True) as txn:
            if not txn.delete(encoded):
                raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        env = self._env()
        encoded = self._key(key)
        if encoded is None:
            return False
        with env.begin() as txn:
            return txn.cursor().set_key(encoded)  # no copy of the value

    def __iter__(self) -> Iterator[str]:
        return self._scan(keys=True, values=False)

    def _scan(self, keys: bool, values: bool) -> Iterator[Any]:
        env = self._env()
        # The read transaction lives as long as the iterator; an abandoned
        # iterator is closed (and its transaction ended) when collected.
        with env.begin() as txn:
            for item in txn.cursor().iternext(keys=keys, values=values):
                if keys and values:
                    yield item[0].decode("utf-8"), item[1]
                elif keys:
                    yield item.decode("utf-8")
                else:
                    yield item

    def items(self) -> ItemsView[str, bytes]:
        return _LMDBItems(self)

    def values(self) -> ValuesView[bytes]:
        return _LMDBValues(self)

    def __len__(self) -> int:
        return self._env().stat()["entries"]

    def __str__(self) -> str:
        state = "closed" if self.__dict__.get("_closed") else f"{len(self)} elements"
        return f"<LMDB: {self.__dict__.get('directory')}, {state}>"

    __repr__ = __str__

    def flush(self) -> None:
        """Write everything stored so far to disk (``fsync``)."""
        self._env().sync(True)

    def close(self) -> None:
        """Close the database; later use raises ``OSError(EBADF)``. Idempotent."""
        if "db" in self.__dict__ and not self._closed:
            self._closed = True
            self.db.close()


class _LMDBItems(ItemsView):
    """items() in a single cursor pass, without one lookup per key."""

    _mapping: LMDB
    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        return self._mapping._scan(keys=True, values=True)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        try:
            return self._mapping[key] == value
        except KeyError:
            return False


class _LMDBValues(ValuesView):
    """values() in a single cursor pass."""

    _mapping: LMDB
    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        return self._mapping._scan(keys=False, values=True)

    def __contains__(self, value: object) -> bool:
        return any(v == value for v in self)
