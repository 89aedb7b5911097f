"""A mapping that transforms values on their way in and out (mirrors ``zict.func``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

from zict_core.common import KT, VT, ZictBase, close, flush

WT = TypeVar("WT")


class Func(ZictBase[KT, VT], Generic[KT, VT, WT]):
    """Wrap a mapping ``d`` with a pair of functions applied to values: ``dump``
    when a value is stored, ``load`` when it is read.

    Parameters
    ----------
    dump: callable
        Applied to each value before it is stored in ``d``.
    load: callable
        Applied to each stored value when it is read back.
    d: MutableMapping
        The mapping that holds the dumped values.

    Notes
    -----
    :meth:`update` streams: it dumps one value, stores it, and only then dumps
    the next, so it never holds more than one dumped value at a time (provided
    ``d.update`` does not collect its input itself).

    Examples
    --------
    >>> import zlib
    >>> d = {}
    >>> f = Func(zlib.compress, zlib.decompress, d)
    >>> f["x"] = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    >>> len(d["x"]) < 40
    True
    >>> f["x"]
    b'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
    """

    #: Applied to each value before it is stored in :attr:`d`.
    dump: Callable[[VT], WT]
    #: Applied to each stored value when it is read back.
    load: Callable[[WT], VT]
    #: The mapping that holds the dumped values.
    d: MutableMapping[KT, WT]

    def __init__(
        self,
        dump: Callable[[VT], WT],
        load: Callable[[WT], VT],
        d: MutableMapping[KT, WT],
    ):
        super().__init__()
        self.dump = dump
        self.load = load
        self.d = d

    def __getitem__(self, key: KT) -> VT:
        return self.load(self.d[key])

    def __setitem__(self, key: KT, value: VT) -> None:
        self.d[key] = self.dump(value)

    def __delitem__(self, key: KT) -> None:
        del self.d[key]

    def __contains__(self, key: object) -> bool:
        return key in self.d

    def __iter__(self) -> Iterator[KT]:
        return iter(self.d)

    def __len__(self) -> int:
        return len(self.d)

    def _do_update(self, items: Iterable[tuple[KT, VT]]) -> None:
        # A generator: each value is dumped only when d.update asks for it.
        dump = self.dump
        self.d.update((key, dump(value)) for key, value in items)

    def __str__(self) -> str:
        return f"<Func: {funcname(self.dump)}<->{funcname(self.load)} {self.d}>"

    __repr__ = __str__

    def flush(self) -> None:
        flush(self.d)

    def close(self) -> None:
        # __del__ calls close(): tolerate a half-built instance
        if "d" in self.__dict__:
            close(self.d)


def funcname(func: Any) -> str:
    """A readable name for *func*, looking through ``functools.partial``."""
    while hasattr(func, "func"):
        func = func.func
    name = getattr(func, "__name__", None)
    return name if isinstance(name, str) else str(func)
