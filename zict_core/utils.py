"""Small data structures shared by the mappings (mirrors ``zict.utils``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet

from zict_core.common import T


class InsertionSortedSet(MutableSet[T]):
    """A set that remembers insertion order, like the keys of a dict.

    Re-adding a present element keeps its place. Equality ignores order and class:
    it compares contents with any other set-like. Safe to use from several threads.

    Examples
    --------
    >>> s = InsertionSortedSet([3, 1, 2])
    >>> s.add(1)  # already present: stays where it is
    >>> s
    InsertionSortedSet([3, 1, 2])
    >>> s.popleft(), s.popright()
    (3, 2)
    >>> s == {1}
    True
    """

    __slots__ = ("_d",)
    _d: dict[T, None]

    def __init__(self, other: Iterable[T] = ()) -> None:
        self._d = dict.fromkeys(other)

    def __contains__(self, item: object) -> bool:
        return item in self._d

    def __iter__(self) -> Iterator[T]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._d)!r})"

    def add(self, value: T) -> None:
        """Add *value* at the end, unless it is already present."""
        self._d[value] = None

    def discard(self, value: T) -> None:
        """Remove *value* if present."""
        try:
            del self._d[value]
        except KeyError:
            pass

    def remove(self, value: T) -> None:
        """Remove *value*; KeyError if absent."""
        del self._d[value]

    def popleft(self) -> T:
        """Remove and return the oldest element; KeyError if empty."""
        while True:
            try:
                value = next(iter(self._d))
            except StopIteration:
                raise KeyError("pop from an empty set") from None
            except RuntimeError:  # resized by another thread meanwhile
                continue
            try:
                del self._d[value]
            except KeyError:  # another thread popped it first
                continue
            return value

    def popright(self) -> T:
        """Remove and return the newest element; KeyError if empty."""
        try:
            return self._d.popitem()[0]
        except KeyError:
            raise KeyError("pop from an empty set") from None

    pop = popright

    def clear(self) -> None:
        self._d.clear()
