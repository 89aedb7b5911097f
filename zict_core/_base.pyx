# cython: language_level=3
"""The C-level reentrant lock and the compiled base class of LRU and Buffer.

:class:`RLock` behaves like :class:`threading.RLock`. Its bookkeeping is guarded by
the GIL, so taking a free lock costs two stores; only a contended acquire touches
an OS primitive, and it releases the GIL while it waits.

:class:`ZictCore` gives the compiled mappings what :class:`zict_core.common.ZictBase`
gives Python ones (``lock``, ``unlock()``, ``discard``, ``update``, the context
manager protocol, closing on deletion) plus the ``MutableMapping`` mixin methods,
since an extension type cannot inherit from a Python class.
"""

import sys
from collections.abc import ItemsView, KeysView, Mapping, ValuesView
from itertools import chain
from types import GenericAlias


cdef object _missing = object()
cdef object _is_finalizing = sys.is_finalizing


cdef class RLock:
    """A reentrant lock (same interface as :class:`threading.RLock`)."""

    def __cinit__(self):
        zc_rlock_init(&self.st)

    def __dealloc__(self):
        zc_rlock_free(&self.st)

    def acquire(self, bint blocking=True, double timeout=-1):
        """Take the lock; with ``blocking=False`` return False at once if another
        thread holds it; with a ``timeout`` (seconds) give up after that long."""
        if not blocking and timeout != -1:
            raise ValueError("can't specify a timeout for a non-blocking call")
        if timeout < 0 and timeout != -1:
            raise ValueError("timeout value must be a non-negative number")
        if zc_rlock_try(&self.st):
            return True
        if not blocking:
            return False
        return zc_rlock_wait(&self.st, timeout, 1) == 1

    def release(self):
        """Release one level; RuntimeError if this thread does not hold the lock."""
        zc_rlock_release(&self.st)

    def _is_owned(self):
        return zc_rlock_is_owned(&self.st)

    def __enter__(self):
        zc_rlock_acquire(&self.st)
        return True

    def __exit__(self, *exc):
        zc_rlock_release(&self.st)

    def __repr__(self):
        state = "locked" if self.st.count else "unlocked"
        return f"<zict_core RLock {state} count={self.st.count}>"

    def __reduce__(self):
        raise TypeError("cannot pickle a lock")


cdef class _Unlock:
    """Context manager of :meth:`ZictCore.unlock`."""

    cdef RLock lock

    def __enter__(self):
        zc_rlock_release(&self.lock.st)

    def __exit__(self, *exc):
        zc_rlock_reacquire(&self.lock.st)


cdef list as_callbacks(object cbs, str what):
    """A list of callables from None, one callable, or an iterable of them."""
    if cbs is None:
        return []
    if callable(cbs):
        return [cbs]
    try:
        out = list(cbs)
    except TypeError:
        raise TypeError(
            f"{what} must be a callable, a list of callables or None, "
            f"got {type(cbs).__name__}"
        ) from None
    for cb in out:
        if not callable(cb):
            raise TypeError(f"{what} must hold callables, got {type(cb).__name__}")
    return out


def new_instance(cls):
    """Unpickling of the compiled mappings: a bare instance, which
    ``__setstate__`` then fills."""
    return cls.__new__(cls)


cdef class ZictCore:
    """Base of the compiled mappings: the ZictBase interface in C."""

    def __cinit__(self, *args, **kwargs):
        # Accept any arguments: subclasses (dask's SpillBuffer) have their own
        # constructor signatures and call the base __init__ themselves.
        self.lock = RLock()

    __class_getitem__ = classmethod(GenericAlias)

    # The MutableMapping mixin methods, in terms of the mapping's own
    # __getitem__/__setitem__/__delitem__/__iter__.

    def get(self, key, default=None):
        """``self[key]`` if present, else *default*."""
        try:
            return self[key]
        except KeyError:
            return default

    def pop(self, key, default=_missing):
        """Remove *key* and return its value (or *default*, else KeyError)."""
        try:
            value = self[key]
        except KeyError:
            if default is _missing:
                raise
            return default
        del self[key]
        return value

    def popitem(self):
        """Remove and return some ``(key, value)``; KeyError if empty."""
        try:
            key = next(iter(self))
        except StopIteration:
            raise KeyError("popitem(): mapping is empty") from None
        value = self[key]
        del self[key]
        return key, value

    def setdefault(self, key, default=None):
        """``self[key]`` if present, else store and return *default*."""
        try:
            return self[key]
        except KeyError:
            self[key] = default
        return default

    def clear(self):
        """Remove every key."""
        while True:
            try:
                self.popitem()
            except KeyError:
                return

    def keys(self):
        return KeysView(self)

    def items(self):
        return ItemsView(self)

    def values(self):
        return ValuesView(self)

    def __eq__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    def unlock(self):
        """Inside a method holding ``self.lock``: release it for the ``with``
        block, and take it back afterwards even on an exception."""
        cdef _Unlock u = _Unlock.__new__(_Unlock)
        u.lock = self.lock
        return u

    def discard(self, key):
        """Delete *key* if present, without ever reading its value."""
        try:
            del self[key]
        except KeyError:
            pass

    def update(self, other=(), /, **kwargs):
        """Like :meth:`dict.update`; the pairs go through :meth:`_do_update`."""
        pairs = other.items() if hasattr(other, "items") else other
        self._do_update(chain(pairs, kwargs.items()))

    def _do_update(self, items):
        """Store each ``(key, value)`` of *items*; subclasses may override it."""
        for key, value in items:
            self[key] = value

    def flush(self):
        """Flush the underlying mappings that support it."""

    def close(self):
        """Release system resources held by the underlying mappings."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            # At interpreter shutdown, what close() needs may already be gone;
            # there is nothing left to release then, and nowhere to report.
            if not _is_finalizing():
                raise
