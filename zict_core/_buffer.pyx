# cython: language_level=3
"""The compiled Buffer: a fast LRU mapping that spills to a slow one.

The fast tier is a compiled :class:`~zict_core.LRU`; reads that hit it never leave
C. Slow reads/writes and callbacks run with the locks released, and every move
between tiers is cancellable: a key deleted or replaced while it moves is never
resurrected, lost, or left behind in the other tier.
"""

cimport cython

from collections import namedtuple
from collections.abc import ItemsView, ValuesView
from itertools import chain

from zict_core._base cimport (
    ZictCore,
    as_callbacks,
    zc_rlock_reacquire,
    zc_rlock_release,
)
from zict_core._lru cimport LRU, zc_num

from zict_core._base import new_instance
from zict_core._lru import _default_weight
from zict_core.common import close as _close_py, flush as _flush_py

# C-level references: they outlive the module dict, which the interpreter may
# clear at shutdown before a Buffer still alive is finalised.
cdef object _close = _close_py
cdef object _flush = _flush_py


cdef extern from "zc_compat.h":
    Py_hash_t zc_hash(object key) except? -1


cdef extern from "zc_num.h":
    void zn_set_int(zc_num *x, long long i)
    int zn_addsub(zc_num *out, const zc_num *a, const zc_num *b, int sign) except -1
    void zn_clear(zc_num *x)
    object zn_to_obj(const zc_num *x)
    int zn_gt(const zc_num *a, const zc_num *b) except -1


#: Snapshot of a Buffer's counters (see :attr:`Buffer.stats`).
BufferStats = namedtuple(
    "BufferStats",
    [
        "hits",
        "misses",
        "spills",
        "spill_failures",
        "spilled_weight",
        "unspilled_weight",
    ],
    module="zict_core.buffer",
)
BufferStats.__doc__ = """Counters of a :class:`Buffer` since creation or reset.

Attributes
----------
hits : int
    Reads served by the fast tier.
misses : int
    Reads served by the slow tier (the key is promoted to fast unless it is
    heavier than ``n``).
spills : int
    Keys moved from fast to slow: evictions of fast that completed (the write to
    slow and the callbacks succeeded, and no other thread replaced or deleted the
    key meanwhile); equal to ``fast.stats.evictions``.
spill_failures : int
    ``fast_to_slow`` calls that raised (the key stayed in fast).
spilled_weight : number
    Total weight of the keys spilled.
unspilled_weight : number
    Total weight of the keys read back from slow.
"""


@cython.freelist(8)
cdef class _Restore:
    """The reads of one key from slow in progress (shared by concurrent reads of
    the same key). A delete or update of the key cancels them all and unregisters
    this object, so reads that start afterwards get a fresh one."""

    cdef bint cancelled
    cdef Py_ssize_t readers


cdef object _MISSING = object()


cdef class Buffer(ZictCore):
    """Buffer a fast mapping on top of a slow one.

    Keys live in ``fast`` (wrapped in an :class:`~zict_core.LRU` of total weight
    ``n``) until it overflows; the least recently used ones then move to ``slow``.
    Reading a key from slow moves it back to fast (unless it is heavier than ``n``).

    Parameters
    ----------
    fast: MutableMapping
    slow: MutableMapping
    n: int or float
        Total weight the fast tier may hold.
    weight: callable, optional
        ``f(key, value) -> number``; default 1 per key.
    fast_to_slow_callbacks, slow_to_fast_callbacks: callable or list of callables
        ``f(key, value)``, run after a key moved from fast to slow (before it leaves
        fast) or from slow to fast. If a fast_to_slow callback or ``slow.__setitem__``
        raises (a full disk, an unpicklable value), the key stays in fast, is
        removed from slow, and the exception propagates unchanged.

    Notes
    -----
    Thread-safe. ``slow.__getitem__``, ``slow.__setitem__`` and the callbacks run
    without the lock; ``fast`` and ``slow.__contains__``/``__delitem__`` run under it.

    Examples
    --------
    >>> buf = Buffer({}, {}, 2)
    >>> buf["x"] = 1; buf["y"] = 2; buf["z"] = 3
    >>> sorted(buf.fast), sorted(buf.slow)
    (['y', 'z'], ['x'])
    >>> buf["x"]
    1
    >>> sorted(buf.fast), sorted(buf.slow)
    (['x', 'z'], ['y'])
    """

    cdef readonly LRU fast
    cdef public object slow
    cdef object _weight
    cdef object _f2s
    cdef object _s2f
    cdef dict _restores  # key -> _Restore of the reads in progress
    cdef bint _virtual_s2f
    cdef bint _virtual_evict
    cdef public unsigned long long _hits, _misses, _spill_failures
    cdef zc_num _unspilled_weight
    cdef object __weakref__
    cdef dict __dict__

    def __cinit__(self, *args, **kwargs):
        self._restores = {}
        self._f2s = []
        self._s2f = []
        zn_set_int(&self._unspilled_weight, 0)

    def __dealloc__(self):
        zn_clear(&self._unspilled_weight)

    def __init__(self, fast, slow, n, weight=_default_weight,
                 fast_to_slow_callbacks=None, slow_to_fast_callbacks=None):
        for name in ("__getitem__", "__setitem__", "__delitem__", "__contains__"):
            if not hasattr(slow, name):
                raise TypeError(
                    f"slow must be a MutableMapping, got {type(slow).__name__} "
                    f"(no {name})"
                )
        self.fast = LRU(
            n,
            fast,
            weight=weight,
            on_evict=[self.fast_to_slow],
            on_cancel_evict=[self._cancel_evict],
        )
        self.slow = slow
        self._weight = weight
        self.fast_to_slow_callbacks = fast_to_slow_callbacks
        self.slow_to_fast_callbacks = slow_to_fast_callbacks
        self._set_virtual()

    cdef _set_virtual(self):
        # Internal paths call Python overrides of these (dask subclasses Buffer);
        # a plain Buffer stays in C.
        cls = type(self)
        self._virtual_s2f = cls is not Buffer and (
            cls.slow_to_fast is not Buffer.slow_to_fast
        )
        self._virtual_evict = cls is not Buffer and (
            cls.evict_until_below_target is not Buffer.evict_until_below_target
        )

    cdef inline int _cancel_restores(self, object key) except -1:
        cdef _Restore r
        if self._restores:
            r = self._restores.pop(key, None)
            if r is not None:
                r.cancelled = True
        return 0

    # ------------------------------------------------------------- mapping API

    def __getitem__(self, key):
        """The value of *key*, from fast (making it most recent) or else from slow
        (moving it to fast, which may push older keys to slow)."""
        self._acquire()
        try:
            value = self.fast._get_or(key, _MISSING, True)
            if value is not _MISSING:
                self._hits += 1
                return value
            if self._virtual_s2f:
                return self.slow_to_fast(key)
            return self._slow_to_fast(key)
        finally:
            self._release()

    def slow_to_fast(self, key):
        """Move *key* from slow to fast and return its value (KeyError if absent,
        or if it was deleted/replaced while being read). Called with or without
        ``self.lock``; subclasses may override it."""
        self._acquire()
        try:
            return self._slow_to_fast(key)
        finally:
            self._release()

    cdef object _slow_to_fast(self, object key):
        # Called holding self.lock (exactly once or recursively).
        cdef _Restore r = self._restores.get(key)
        cdef zc_num w
        if r is None:
            r = _Restore.__new__(_Restore)
            self._restores[key] = r
        r.readers += 1
        try:
            zc_rlock_release(&self.lock.st)
            try:
                value = self.slow[key]
            except KeyError:
                value = _MISSING
            finally:
                zc_rlock_reacquire(&self.lock.st)
            if value is _MISSING and not r.cancelled:
                # Another reader may have restored it meanwhile: then fast has it.
                value = self.fast._get_or(key, _MISSING, False)
                if value is _MISSING:
                    raise KeyError(key)
                return value
            if r.cancelled:
                raise KeyError(key)
        finally:
            r.readers -= 1
            if r.readers == 0 and not r.cancelled:
                del self._restores[key]

        self.fast._weigh(key, value, &w)
        try:
            # Promote unless the value alone is heavier than n (then moving it
            # would only evict it again). fast holds it before slow lets go, so
            # the key is never in neither tier.
            if not zn_gt(&w, &self.fast._n):
                self.fast._insert(key, zc_hash(key), value, &w)
                try:
                    del self.slow[key]
                except KeyError:
                    pass  # deleted from slow meanwhile: fast has it now
                except BaseException:
                    # slow could not let go (say, an unlink failed): leave the
                    # key where it was rather than in both tiers
                    self.fast.discard(key)
                    raise
            self._misses += 1
            zn_addsub(&self._unspilled_weight, &self._unspilled_weight, &w, 1)
        finally:
            zn_clear(&w)

        zc_rlock_release(&self.lock.st)
        try:
            if self._virtual_evict:
                self.evict_until_below_target()
            else:
                self.fast._evict_until_below(None)
            for cb in self._s2f:
                cb(key, value)
        finally:
            zc_rlock_reacquire(&self.lock.st)
        return value

    def fast_to_slow(self, key, value):
        """Write *key* to slow and run the fast_to_slow callbacks; on any error,
        remove it from slow again and re-raise (the LRU keeps it in fast).
        Runs without the locks; subclasses may override it."""
        try:
            self.slow[key] = value
        except BaseException:
            self._spill_failures += 1
            # A write may fail after storing something (a partial file, a
            # mapping that stores then raises): the key must not stay in slow.
            try:
                if key in self.slow:
                    del self.slow[key]
            except Exception:
                pass
            raise
        try:
            for cb in self._f2s:
                cb(key, value)
        except BaseException:
            self._spill_failures += 1
            try:
                del self.slow[key]
            except KeyError:
                pass
            raise

    def _cancel_evict(self, key, value):
        # on_cancel_evict of fast: the key was deleted or replaced while it was
        # being written to slow; remove what was written.
        self._acquire()
        try:
            try:
                del self.slow[key]
            except KeyError:
                pass
        finally:
            self._release()

    def __setitem__(self, key, value):
        """Store *key* in fast (dropping any older value from slow), then spill
        the least recently used keys until fast fits ``n``."""
        self._set(key, value)
        if self._virtual_evict:
            try:
                self.evict_until_below_target()
            except Exception:
                self.fast._heavy_fallback(key)
                raise
        else:
            self.fast._after_set(key)

    def set_noevict(self, key, value):
        """Like ``__setitem__`` but never moves keys to slow."""
        self._set(key, value)

    cdef int _set(self, object key, object value) except -1:
        # The weight first: if the weight function raises, nothing changed. Then,
        # holding both locks (so no reader, restore or spill sees the key in
        # between): the new value into fast, then the old one out of slow. The
        # key is never in neither tier, and never written to slow twice.
        cdef zc_num w
        cdef Py_hash_t h = zc_hash(key)
        self.fast._weigh(key, value, &w)
        try:
            self._acquire()
            try:
                self.fast._acquire()
                try:
                    self._cancel_restores(key)
                    self.fast._insert(key, h, value, &w)
                    try:
                        if key in self.slow:
                            del self.slow[key]
                    except KeyError:
                        pass
                    except BaseException:
                        # slow still holds the old value: take the new one back
                        # out of fast, so the mapping stays as it was
                        self.fast.discard(key)
                        raise
                finally:
                    self.fast._release()
            finally:
                self._release()
        finally:
            zn_clear(&w)
        return 0

    def evict_until_below_target(self, n=None):
        """Move keys from fast to slow until fast's total weight (plus offset)
        is at most *n* (default ``self.n``)."""
        self.fast._evict_until_below(n)

    def __delitem__(self, key):
        self._acquire()
        try:
            self._cancel_restores(key)
            try:
                del self.fast[key]
            except KeyError:
                del self.slow[key]
            else:
                if self.fast._is_evicting(key):
                    # its spill is under way and may have written slow already;
                    # the spill is cancelled and would clean up, but the key
                    # must look deleted now
                    try:
                        del self.slow[key]
                    except KeyError:
                        pass
        finally:
            self._release()

    def __len__(self):
        """Number of keys; a key caught between the tiers counts once."""
        self._acquire()
        try:
            self.fast._acquire()
            try:
                n = len(self.fast) + len(self.slow)
                for key in chain(self._restores, self.fast._evicting_keys()):
                    if key in self.fast and key in self.slow:
                        n -= 1
                return n
            finally:
                self.fast._release()
        finally:
            self._release()

    def __iter__(self):
        """Every key once, even if keys move between the tiers meanwhile."""
        seen = set()
        while True:
            try:
                for d in (self.fast, self.slow):
                    for key in d:
                        if key not in seen:
                            seen.add(key)
                            yield key
                return
            except RuntimeError:
                pass  # a tier changed size under us: carry on where we were

    def __contains__(self, key):
        # Under the lock: a key moving between the tiers is in one or the other
        # at every moment the lock is free (fast is checked first, since a
        # spill writes slow before it leaves fast).
        self._acquire()
        try:
            return key in self.fast or key in self.slow
        finally:
            self._release()

    def items(self):
        """View of ``(key, value)`` pairs that never reorders the LRU."""
        return BufferItemsView(self)

    def values(self):
        """View of the values that never reorders the LRU."""
        return BufferValuesView(self)

    # --------------------------------------------------------------- attributes

    @property
    def n(self):
        """Maximum total weight of the fast tier (see :attr:`LRU.n`)."""
        return self.fast.n

    @n.setter
    def n(self, value):
        self.fast.n = value

    @property
    def offset(self):
        """Added to fast's total weight when deciding to spill (see LRU.offset)."""
        return self.fast.offset

    @offset.setter
    def offset(self, value):
        self.fast.offset = value

    @property
    def weight(self):
        """The weight function (shared with ``fast``)."""
        return self._weight

    @weight.setter
    def weight(self, value):
        self.fast.weight = value
        self._weight = value

    @property
    def fast_to_slow_callbacks(self):
        """List of ``f(key, value)`` run after a key was written to slow."""
        return self._f2s

    @fast_to_slow_callbacks.setter
    def fast_to_slow_callbacks(self, value):
        self._f2s = as_callbacks(value, "fast_to_slow_callbacks")

    @property
    def slow_to_fast_callbacks(self):
        """List of ``f(key, value)`` run after a key was read back from slow."""
        return self._s2f

    @slow_to_fast_callbacks.setter
    def slow_to_fast_callbacks(self, value):
        self._s2f = as_callbacks(value, "slow_to_fast_callbacks")

    @property
    def _cancel_restore(self):
        """Keys being read from slow -> whether the read was cancelled (as zict)."""
        return {k: (<_Restore>r).cancelled for k, r in self._restores.items()}

    @property
    def stats(self):
        """The counters as a :class:`BufferStats` snapshot."""
        return BufferStats(
            self._hits,
            self._misses,
            # a spill is an eviction of fast that completed (its write to slow
            # succeeded and no other thread replaced the key meanwhile)
            self.fast._evictions,
            self._spill_failures,
            zn_to_obj(&self.fast._evicted_weight),
            zn_to_obj(&self._unspilled_weight),
        )

    def reset_stats(self):
        """Zero the counters of :attr:`stats` (and of ``fast.stats``)."""
        self._hits = self._misses = self._spill_failures = 0
        zn_clear(&self._unspilled_weight)
        self.fast.reset_stats()

    # ------------------------------------------------------------------- misc

    def __str__(self):
        return f"{type(self).__name__}<{self.fast}, {self.slow}>"

    def __repr__(self):
        return self.__str__()

    def flush(self):
        """Flush both tiers if they support it."""
        _flush(self.fast, self.slow)

    def close(self):
        """Close both tiers (and stop any eviction loop of fast)."""
        _close(self.fast, self.slow)

    def __reduce__(self):
        state = {
            "fast": self.fast,
            "slow": self.slow,
            "weight": self._weight,
            "f2s": self._f2s,
            "s2f": self._s2f,
            "dict": getattr(self, "__dict__", None) or None,
        }
        return new_instance, (type(self),), state

    def __setstate__(self, dict state):
        self.fast = state["fast"]
        self.slow = state["slow"]
        self._weight = state["weight"]
        self._f2s = state["f2s"]
        self._s2f = state["s2f"]
        self._set_virtual()
        if state["dict"]:
            getattr(self, "__dict__").update(state["dict"])


class BufferItemsView(ItemsView):
    """``Buffer.items()``: fast then slow, without touching the LRU order."""

    __slots__ = ()

    def __contains__(self, item):
        key, value = item
        buf = self._mapping
        for tier in (buf.fast.d, buf.slow):
            try:
                found = tier[key]  # fast.d, not fast: no reordering, no promotion
            except KeyError:
                continue
            except TypeError:
                return False
            return found is value or found == value
        return False

    def __iter__(self):
        return chain(self._mapping.fast.items(), self._mapping.slow.items())


class BufferValuesView(ValuesView):
    """``Buffer.values()``: fast then slow, without touching the LRU order."""

    __slots__ = ()

    def __contains__(self, value):
        return any(value == v for v in self)

    def __iter__(self):
        return chain(self._mapping.fast.values(), self._mapping.slow.values())
