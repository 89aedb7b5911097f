# cython: language_level=3
"""The compiled LRU: the hot path of zict_core.

Values live in the user's mapping ``d``; recency order, heavy keys and weights live
in a C store (``src/zc_store.h``) keyed by the key's hash, so every operation is
O(1) whatever the number of keys. The store holds strong references to the keys and
takes part in garbage collection.
"""

from collections import namedtuple
from collections.abc import Mapping, Set

from cpython.object cimport (
    PyObject,
    PyTypeObject,
    inquiry,
    traverseproc,
    visitproc,
)
from cpython.ref cimport Py_XDECREF

cdef extern from "Python.h":
    Py_ssize_t PyDict_GET_SIZE(object d)

from zict_core._base cimport (
    ZictCore,
    as_callbacks,
    zc_rlock_reacquire,
    zc_rlock_release,
)

from zict_core._base import new_instance
from zict_core.common import close as _close
from zict_core.common import flush as _flush
from zict_core.common import nodefault as _nodefault_py


cdef extern from "zc_compat.h":
    Py_hash_t zc_hash(object key) except? -1
    object zc_dict_getitem(object d, object key, Py_hash_t h)
    int zc_dict_lookup(object d, object key, Py_hash_t h, PyObject **out) except -1
    int zc_dict_set(object d, object key, Py_hash_t h, object v) except -1
    int zc_dict_del(object d, object key, Py_hash_t h) except -1


cdef extern from "zc_num.h":
    int ZN_INT, ZN_DBL, ZN_OBJ
    void zn_set_int(zc_num *x, long long i)
    void zn_clear(zc_num *x)
    void zn_copy(zc_num *dst, const zc_num *src)
    int zn_from_obj(object obj, zc_num *out, const char *what) except -1
    object zn_to_obj(const zc_num *x)
    int zn_addsub(zc_num *out, const zc_num *a, const zc_num *b, int sign) except -1
    int zn_gt(const zc_num *a, const zc_num *b) except -1
    int zn_ge(const zc_num *a, const zc_num *b) except -1
    int zn_isnan(const zc_num *x) except -1


cdef extern from "zc_store.h":
    unsigned int ZC_F_LIVE, ZC_F_HEAVY, ZC_F_EVICTING, ZC_F_CANCELLED
    int zc_store_init(zc_store *s) except -1
    void zc_store_free(zc_store *s)
    int zc_store_clear(zc_store *s)
    int zc_store_traverse(const zc_store *s, visitproc visit, void *arg)
    size_t zc_store_nbytes(const zc_store *s)
    zc_node *zc_N(const zc_store *s, unsigned int i)
    unsigned int zc_lookup(zc_store *s, object key, Py_hash_t hash) except? 0xFFFFFFFF
    unsigned int zc_prepare(
        zc_store *s, object key, Py_hash_t hash, const zc_num *w, int heavy
    )
    void zc_unprepare(zc_store *s, unsigned int i, PyObject **key_out, PyObject **w_out)
    void zc_link(zc_store *s, unsigned int i, int heavy)
    void zc_remove(zc_store *s, unsigned int i, PyObject **key_out, PyObject **w_out)
    void zc_node_free(zc_store *s, unsigned int i, PyObject **key_out, PyObject **w_out)
    void zc_touch(zc_store *s, unsigned int i)
    void zc_heavy_discard(zc_store *s, unsigned int i)
    void zc_ev_push(zc_store *s, unsigned int i)
    void zc_ev_remove(zc_store *s, unsigned int i)
    void zc_weight_get(const zc_store *s, unsigned int i, zc_num *out)
    unsigned int zc_next_heavy(const zc_store *s, unsigned int i)


cdef object _nodefault = _nodefault_py
cdef object _MISSING = object()
cdef object _INF = float("inf")
cdef object _close_all = _close
cdef object _flush_all = _flush


def _default_weight(key, value):
    """The default weight function: every key weighs 1.

    The LRU recognises it and skips calling it, so it costs nothing per insertion.
    """
    return 1


#: Snapshot of an LRU's counters (see :attr:`LRU.stats`).
LRUStats = namedtuple(
    "LRUStats", ["hits", "misses", "evictions"], module="zict_core.lru"
)
LRUStats.__doc__ = """Counters of an :class:`LRU` since creation or ``reset_stats()``.

Attributes
----------
hits : int
    ``lru[key]`` calls that found the key.
misses : int
    ``lru[key]`` calls that raised KeyError.
evictions : int
    Keys that left through :meth:`LRU.evict` (explicit or automatic), callbacks
    included; cancelled or failed evictions are not counted.
"""


cdef inline void _drop(PyObject *a, PyObject *b) noexcept:
    # Release references handed out by the store once it is consistent again.
    Py_XDECREF(a)
    Py_XDECREF(b)


cdef zc_num _ZERO
zn_set_int(&_ZERO, 0)


cdef int _check_number(zc_num *x, str what, bint is_weight) except -1:
    """Reject NaN for every number; weights must also be finite and >= 0."""
    if zn_isnan(x):
        raise ValueError(f"{what} must not be NaN")
    if is_weight:
        if zn_gt(&_ZERO, x):
            raise ValueError(f"{what} must not be negative, got {zn_to_obj(x)!r}")
        if x.kind == ZN_DBL and zn_to_obj(x) == _INF:
            raise ValueError(f"{what} must be finite, got {zn_to_obj(x)!r}")
    return 0


cdef class LRU(ZictCore):
    """Evict the least recently used keys once their total weight exceeds ``n``.

    Parameters
    ----------
    n: int or float
        Maximum total weight (the number of keys with the default weight). ``n``
        may be ``sys.maxsize`` or ``math.inf``. A key heavier than ``n`` on its own
        is evicted as soon as it is inserted. Settable; see also ``offset``.
    d: MutableMapping
        Holds the values. Iterating the LRU follows ``d``'s own order.
    on_evict: callable or list of callables
        ``f(key, value)``, called before a key leaves (with the lock released). If
        one raises, the key stays in the LRU and the exception propagates unchanged.
    on_cancel_evict: callable or list of callables
        ``f(key, value)``, called when another thread deleted or replaced a key
        while its on_evict callbacks ran (the eviction is then abandoned).
    weight: callable
        ``f(key, value) -> number``, called once per insertion. Defaults to 1 per
        key (without a Python call). The result keeps its type: int weights give
        int ``weights`` and ``total_weight``. NaN, negative numbers and
        non-numbers raise (ValueError/TypeError) and leave the LRU unchanged.

    Notes
    -----
    Thread-safe: every method takes ``self.lock`` (a C-level reentrant lock),
    released while callbacks run. Eviction decides whether a key leaves only after
    taking the lock back, so a key replaced meanwhile by another thread is never
    lost (zict 3.0.0 could delete the newer value).

    Examples
    --------
    >>> lru = LRU(2, {}, on_evict=lambda k, v: print("evicted", k, v))
    >>> lru["x"] = 1
    >>> lru["y"] = 2
    >>> lru["x"]
    1
    >>> lru["z"] = 3
    evicted y 2
    >>> sorted(lru)
    ['x', 'z']
    """

    def __cinit__(self, *args, **kwargs):
        zc_store_init(&self.st)
        zn_set_int(&self._n, 0)
        zn_set_int(&self._offset, 0)
        zn_set_int(&self._total, 0)
        zn_set_int(&self._inflight, 0)
        zn_set_int(&self._evicted_weight, 0)
        self._d = {}
        self._d_is_dict = True
        self._weight = _default_weight
        self._unit_weight = True
        self._on_evict = []
        self._on_cancel_evict = []
        self._retired = {}

    def __dealloc__(self):
        zc_store_free(&self.st)
        zn_clear(&self._n)
        zn_clear(&self._offset)
        zn_clear(&self._total)
        zn_clear(&self._inflight)
        zn_clear(&self._evicted_weight)

    def __init__(self, n, d, *, on_evict=None, on_cancel_evict=None,
                 weight=_default_weight):
        cdef zc_num nn
        for name in ("__getitem__", "__setitem__", "__delitem__", "__iter__", "items"):
            if not hasattr(d, name):
                raise TypeError(
                    f"d must be a MutableMapping, got {type(d).__name__} "
                    f"(no {name})"
                )
        if not callable(weight):
            raise TypeError(f"weight must be callable, got {type(weight).__name__}")
        zn_from_obj(n, &nn, "n")
        try:
            _check_number(&nn, "n", False)
        except BaseException:
            zn_clear(&nn)
            raise
        on_evict = as_callbacks(on_evict, "on_evict")
        on_cancel_evict = as_callbacks(on_cancel_evict, "on_cancel_evict")

        if self.st.used:
            raise RuntimeError("LRU.__init__ called twice")
        zn_clear(&self._n)
        self._n = nn
        self._d = d
        self._d_is_dict = type(d) is dict
        self._weight = weight
        self._unit_weight = weight is _default_weight
        self._on_evict = on_evict
        self._on_cancel_evict = on_cancel_evict
        self._closed = False
        cls = type(self)
        self._virtual = cls is not LRU and (
            cls.evict is not LRU.evict
            or cls.set_noevict is not LRU.set_noevict
            or cls.evict_until_below_target is not LRU.evict_until_below_target
        )
        # Adopt what d already holds, in d's order; keys at least as heavy as n
        # are marked heavy (to be evicted first).
        for key, value in list(d.items()):
            self._adopt(key, value)

    cdef int _adopt(self, object key, object value) except -1:
        cdef zc_num w
        cdef Py_hash_t h = zc_hash(key)
        cdef unsigned int i
        self._weigh(key, value, &w)
        try:
            heavy = zn_ge(&w, &self._n)
            i = zc_prepare(&self.st, key, h, &w, heavy)
            if i == 0:
                raise MemoryError()
            zn_addsub(&self._total, &self._total, &w, 1)
            zc_link(&self.st, i, heavy)
        finally:
            zn_clear(&w)
        return 0

    # ------------------------------------------------------------------ weights

    cdef int _weigh(self, object key, object value, zc_num *w) except -1:
        """Weight of (key, value) into *w (caller clears it); raises on bad input."""
        if self._unit_weight:
            zn_set_int(w, 1)
            return 0
        obj = self._weight(key, value)
        zn_from_obj(obj, w, "weight")
        try:
            _check_number(w, "weight", True)
        except BaseException:
            zn_clear(w)
            raise
        return 0

    cdef object _node_weight(self, unsigned int i):
        cdef zc_num w
        zc_weight_get(&self.st, i, &w)
        return zn_to_obj(&w)

    # ---------------------------------------------------------- value mapping

    cdef object _peek(self, object key, Py_hash_t h):
        """d[key], without touching the order (KeyError if absent)."""
        if self._d_is_dict:
            return zc_dict_getitem(self._d, key, h)
        return self._d[key]

    cdef inline int _d_set(self, object key, Py_hash_t h, object value) except -1:
        if self._d_is_dict:
            return zc_dict_set(self._d, key, h, value)
        self._d[key] = value
        return 0

    cdef inline int _d_del(self, object key, Py_hash_t h) except -1:
        if self._d_is_dict:
            return zc_dict_del(self._d, key, h)
        del self._d[key]
        return 0

    cdef inline unsigned int _find(self, object key, Py_hash_t h) except? 0xFFFFFFFF:
        """Node index of key, 0 if absent (raises if a key's __eq__ raised)."""
        return zc_lookup(&self.st, key, h)

    # ---------------------------------------------------------------- mapping API

    cdef object _get(self, object key):
        value = self._get_or(key, _MISSING, True)
        if value is _MISSING:
            raise KeyError(key)
        return value

    cdef object _get_or(self, object key, object default, bint count):
        """d[key], making key the most recently used; *default* (no exception)
        if d has no such key. With *count*, update the hit/miss counters."""
        cdef Py_hash_t h = zc_hash(key)
        cdef unsigned int i
        cdef PyObject *v
        self._acquire()
        try:
            if self._d_is_dict:
                if not zc_dict_lookup(self._d, key, h, &v):
                    self._misses += count
                    return default
                value = <object>v
            else:
                try:
                    value = self._d[key]
                except KeyError:
                    self._misses += count
                    return default
            i = self._find(key, h)
            if i:
                zc_touch(&self.st, i)
            self._hits += count
        finally:
            self._release()
        return value

    def __getitem__(self, key):
        """``d[key]``, making *key* the most recently used."""
        return self._get(key)

    def get_all_or_nothing(self, keys):
        """Return ``{k: self[k] for k in keys}``, making them the most recently
        used in that order; if any key is missing, raise KeyError for the first
        missing one and change nothing."""
        cdef unsigned int i
        keys = list(keys)
        self._acquire()
        try:
            result = {key: self._peek(key, zc_hash(key)) for key in keys}
            for key in keys:
                i = self._find(key, zc_hash(key))
                if i:
                    zc_touch(&self.st, i)
            self._hits += len(keys)
        finally:
            self._release()
        return result

    def __setitem__(self, key, value):
        """Insert or replace *key*, then evict until the total weight fits ``n``.

        A value heavier than ``n`` is evicted right after insertion; if that
        fails (an on_evict callback raised), the rest of the LRU is evicted
        instead and the exception is re-raised."""
        if self._virtual:
            self.set_noevict(key, value)
        else:
            self._set_noevict(key, value)
        self._after_set(key)

    cdef int _after_set(self, object key) except -1:
        """The eviction half of __setitem__ (Buffer inserts under its own lock,
        then calls this)."""
        try:
            if self._virtual:
                self.evict_until_below_target()
            else:
                self._evict_until_below(None)
        except Exception:
            self._heavy_fallback(key)
            raise
        return 0

    cdef int _heavy_fallback(self, object key) except -1:
        """After a failed eviction following the insertion of *key*: if *key* is
        too heavy to stay and its own eviction failed (which drops its heavy
        mark), make room by evicting the others, best effort."""
        cdef unsigned int i
        cdef zc_num w
        i = self._find(key, zc_hash(key))
        if i and not (zc_N(&self.st, i).flags & ZC_F_HEAVY):
            zc_weight_get(&self.st, i, &w)
            if zn_gt(&w, &self._n):
                try:
                    while len(self._d) > 1 and self._evict_step():
                        pass
                except Exception:
                    pass
        return 0

    def set_noevict(self, key, value):
        """Insert or replace *key* without evicting anything, even if the total
        weight then exceeds ``n``; see :meth:`evict_until_below_target`."""
        self._set_noevict(key, value)

    cdef int _set_noevict(self, object key, object value) except -1:
        cdef zc_num w
        self._weigh(key, value, &w)
        try:
            self._insert(key, zc_hash(key), value, &w)
        finally:
            zn_clear(&w)
        return 0

    cdef int _insert(self, object key, Py_hash_t h, object value, zc_num *w) except -1:
        """Store key -> value with the weight *w already computed (borrowed)."""
        cdef zc_num total
        cdef unsigned int i, old
        cdef PyObject *k1 = NULL
        cdef PyObject *w1 = NULL
        cdef PyObject *k2 = NULL
        cdef PyObject *w2 = NULL
        cdef bint heavy
        cdef unsigned long long version
        zn_set_int(&total, 0)
        self._acquire()
        try:
            heavy = zn_gt(w, &self._n)
            i = zc_prepare(&self.st, key, h, w, heavy)
            if i == 0:
                raise MemoryError()
            try:
                old = self._find(key, h)
                # The new total first: if the weights cannot be added (say a
                # Decimal to a float total), nothing has changed yet.
                self._total_after(old, w, &total)
                if old and self._d_is_dict:
                    # delete then re-insert, so d's order matches zict's
                    zc_dict_del(self._d, key, h)
                version = self.st.version
                self._d_set(key, h, value)
                if self.st.version != version:
                    # d.__setitem__ re-entered this LRU: look the key up again
                    old = self._find(key, h)
                    zn_clear(&total)
                    self._total_after(old, w, &total)
            except BaseException:
                zc_unprepare(&self.st, i, &k1, &w1)
                raise
            if old:
                self._retire(old, &k2, &w2)
            zn_clear(&self._total)
            self._total = total
            zn_set_int(&total, 0)
            zc_link(&self.st, i, heavy)
        finally:
            zn_clear(&total)
            self._release()
            _drop(k1, w1)
            _drop(k2, w2)
        return 0

    cdef int _total_after(self, unsigned int old, zc_num *w, zc_num *out) except -1:
        """*out = total_weight - weight(old) + w, in zict's order of operations."""
        cdef zc_num oldw
        zn_copy(out, &self._total)
        if old:
            zc_weight_get(&self.st, old, &oldw)
            zn_addsub(out, out, &oldw, -1)
        zn_addsub(out, out, w, 1)
        return 0

    def __delitem__(self, key):
        cdef Py_hash_t h = zc_hash(key)
        cdef unsigned int i
        cdef zc_num w
        cdef PyObject *k1 = NULL
        cdef PyObject *w1 = NULL
        self._acquire()
        try:
            i = self._find(key, h)
            self._d_del(key, h)
            if i:
                zc_weight_get(&self.st, i, &w)
                zn_addsub(&self._total, &self._total, &w, -1)
                self._retire(i, &k1, &w1)
        finally:
            self._release()
            _drop(k1, w1)

    def __len__(self):
        if self._d_is_dict:
            return PyDict_GET_SIZE(self._d)
        return len(self._d)

    def __iter__(self):
        return iter(self._d)

    def __contains__(self, key):
        return key in self._d

    def keys(self):
        return self._d.keys()

    def values(self):
        return self._d.values()

    def items(self):
        return self._d.items()

    # ------------------------------------------------------------------ eviction

    def evict(self, key=_nodefault):
        """Evict *key*, by default the oldest heavy key or else the least recently
        used one. Returns ``(key, value, weight)``; ``(None, None, 0)`` if another
        thread deleted or replaced the key while the callbacks ran (or is already
        evicting it). KeyError if the LRU is empty or *key* is absent. If an
        on_evict callback raises, the key stays and the exception propagates."""
        return self._evict(key)

    cdef tuple _evict(self, object key):
        cdef Py_hash_t h
        cdef unsigned int i
        self._acquire()
        try:
            if key is _nodefault:
                i = self._victim(False)
                if i == 0:
                    raise KeyError("evict(): dictionary is empty")
            else:
                h = zc_hash(key)
                i = self._find(key, h)
                if i == 0:
                    self._peek(key, h)  # KeyError, as d itself reports it
                    raise KeyError(key)
            return self._evict_at(i, True)
        finally:
            self._release()

    cdef tuple _evict_at(self, unsigned int i, bint want_result):
        """Evict live node i; the caller holds the lock. Returns (key, value,
        weight), or None when not want_result, or (None, None, 0) if cancelled."""
        cdef zc_node *node = zc_N(&self.st, i)
        cdef object key = <object>node.key
        cdef Py_hash_t h = node.hash
        cdef zc_num w
        cdef PyObject *k1 = NULL
        cdef PyObject *w1 = NULL
        cdef bint cancelled = False
        try:
            if self._busy(i):
                return None, None, 0
            # The value stays in d until every callback succeeded: inside a
            # Buffer, a key must never be in neither fast nor slow.
            value = self._peek(key, h)
            # A heavy key whose callbacks fail should not be retried first
            # forever: it loses its heavy mark and keeps its place in the order.
            zc_heavy_discard(&self.st, i)
            if self._on_evict:
                zc_ev_push(&self.st, i)
                zc_weight_get(&self.st, i, &w)
                zn_addsub(&self._inflight, &self._inflight, &w, 1)
                try:
                    zc_rlock_release(&self.lock.st)
                    try:
                        for cb in self._on_evict:
                            cb(key, value)
                    finally:
                        zc_rlock_reacquire(&self.lock.st)
                    # Decide under the lock whether the key was deleted or
                    # replaced meanwhile (then it is no longer ours to remove).
                    cancelled = zc_N(&self.st, i).flags & ZC_F_CANCELLED
                finally:
                    node = zc_N(&self.st, i)
                    if node.flags & ZC_F_LIVE:  # else _retire did it
                        zc_weight_get(&self.st, i, &w)
                        zn_addsub(&self._inflight, &self._inflight, &w, -1)
                    zc_ev_remove(&self.st, i)
                    if not node.flags & ZC_F_LIVE:
                        # retired meanwhile: this eviction was its last user
                        if self._retired[key] == 1:
                            del self._retired[key]
                        else:
                            self._retired[key] -= 1
                        zc_node_free(&self.st, i, &k1, &w1)
                if cancelled:
                    zc_rlock_release(&self.lock.st)
                    try:
                        for cb in self._on_cancel_evict:
                            cb(key, value)
                    finally:
                        zc_rlock_reacquire(&self.lock.st)
                    return None, None, 0
            self._d_del(key, h)
            zc_weight_get(&self.st, i, &w)
            result = (key, value, zn_to_obj(&w)) if want_result else None
            zn_addsub(&self._total, &self._total, &w, -1)
            zn_addsub(&self._evicted_weight, &self._evicted_weight, &w, 1)
            zc_remove(&self.st, i, &k1, &w1)
            self._evictions += 1
            return result
        finally:
            _drop(k1, w1)

    cdef unsigned int _victim(self, bint skip_inflight):
        """The node to evict by default: the oldest heavy key, else the least
        recently used. With skip_inflight, pass over keys with an eviction
        already running in another thread (0 if nothing is left)."""
        cdef unsigned int i = self.st.hhead
        if skip_inflight:
            while i and self._busy(i):
                i = zc_next_heavy(&self.st, i)
        if i:
            return i
        i = self.st.head
        if skip_inflight:
            while i and self._busy(i):
                i = zc_N(&self.st, i).next
        return i

    cdef inline bint _busy(self, unsigned int i):
        """Is an eviction of node i's key running: of this node, or of an older
        value of the same key that was replaced meanwhile? A key is never evicted
        twice at once, so its spills reach the slow tier in order."""
        if zc_N(&self.st, i).flags & ZC_F_EVICTING:
            return True
        return bool(self._retired) and <object>zc_N(&self.st, i).key in self._retired

    cdef bint _is_evicting(self, object key) except -1:
        """Is an eviction of *key* (its current value or a replaced one) running?"""
        cdef unsigned int i
        if self.st.nevicting == 0:
            return False
        i = self._find(key, zc_hash(key))
        if i and zc_N(&self.st, i).flags & ZC_F_EVICTING:
            return True
        return key in self._retired

    cdef int _retire(self, unsigned int i, PyObject **k, PyObject **wo) except -1:
        """Unlink live node i after its key was deleted or replaced (the total
        is the caller's business). An eviction of it that is running learns it
        was cancelled, and its weight stops counting as in flight."""
        cdef zc_num w
        if zc_N(&self.st, i).flags & ZC_F_EVICTING:
            zc_weight_get(&self.st, i, &w)
            zn_addsub(&self._inflight, &self._inflight, &w, -1)
            key = <object>zc_N(&self.st, i).key
            self._retired[key] = self._retired.get(key, 0) + 1
        zc_remove(&self.st, i, k, wo)
        return 0

    cdef int _evict_step(self) except -1:
        """Evict one key for the eviction loops. Returns 0 when nothing is left to
        evict by this thread (empty, or only keys that other threads are already
        evicting: their weight is about to leave, so waiting for them would only
        spin)."""
        cdef unsigned int i
        if self._virtual:
            try:
                self.evict()
            except KeyError:
                return 0
            return 1
        self._acquire()
        try:
            i = self._victim(True)
            if i == 0:
                return 0
            self._evict_at(i, False)
            return 1
        finally:
            self._release()

    cdef int _over_target(self, object n) except -1:
        """total_weight + offset > n (n=None: self.n), not counting the weight of
        evictions that are under way in other threads."""
        cdef zc_num s, target
        cdef int r
        zn_addsub(&s, &self._total, &self._offset, 1)
        if self.st.nevicting:
            zn_addsub(&s, &s, &self._inflight, -1)
        try:
            if n is None:
                r = zn_gt(&s, &self._n)
            else:
                zn_from_obj(n, &target, "n")
                try:
                    r = zn_gt(&s, &target)
                finally:
                    zn_clear(&target)
        finally:
            zn_clear(&s)
        return r

    def evict_until_below_target(self, n=None):
        """Evict until ``total_weight + offset <= n`` (default: ``self.n``), or
        until the LRU is closed."""
        self._evict_until_below(n)

    cdef int _evict_until_below(self, object n) except -1:
        while not self._closed and self._over_target(n):
            if not self._evict_step():
                break
        return 0

    # ---------------------------------------------------------------- attributes

    @property
    def d(self):
        """The mapping that holds the values."""
        return self._d

    @property
    def n(self):
        """Maximum total weight. Changing it evicts nothing until
        :meth:`evict_until_below_target` is called; it also moves the line above
        which a newly inserted key counts as heavy."""
        return zn_to_obj(&self._n)

    @n.setter
    def n(self, value):
        cdef zc_num x
        zn_from_obj(value, &x, "n")
        try:
            _check_number(&x, "n", False)
        except BaseException:
            zn_clear(&x)
            raise
        zn_clear(&self._n)
        self._n = x

    @property
    def offset(self):
        """Added to ``total_weight`` when deciding whether to evict (starts at 0).
        Unlike lowering ``n``, it does not change which keys count as heavy."""
        return zn_to_obj(&self._offset)

    @offset.setter
    def offset(self, value):
        cdef zc_num x
        zn_from_obj(value, &x, "offset")
        try:
            _check_number(&x, "offset", False)
        except BaseException:
            zn_clear(&x)
            raise
        zn_clear(&self._offset)
        self._offset = x

    @property
    def total_weight(self):
        """Sum of the weights of all keys (same type as the weights)."""
        return zn_to_obj(&self._total)

    @property
    def weight(self):
        """The weight function ``f(key, value) -> number``."""
        return self._weight

    @weight.setter
    def weight(self, value):
        if not callable(value):
            raise TypeError(f"weight must be callable, got {type(value).__name__}")
        self._weight = value
        self._unit_weight = value is _default_weight

    @property
    def on_evict(self):
        """List of ``f(key, value)`` called before a key is evicted."""
        return self._on_evict

    @on_evict.setter
    def on_evict(self, value):
        self._on_evict = as_callbacks(value, "on_evict")

    @property
    def on_cancel_evict(self):
        """List of ``f(key, value)`` called when an eviction is cancelled."""
        return self._on_cancel_evict

    @on_cancel_evict.setter
    def on_cancel_evict(self, value):
        self._on_cancel_evict = as_callbacks(value, "on_cancel_evict")

    @property
    def closed(self):
        """True after :meth:`close`; stops any eviction loop."""
        return self._closed

    @closed.setter
    def closed(self, value):
        self._closed = bool(value)

    @property
    def weights(self):
        """Read-only mapping key -> weight (a live view, in LRU order)."""
        return self._view(0)

    @property
    def order(self):
        """Set-like view of the keys, least recently used first."""
        return self._view(1)

    @property
    def heavy(self):
        """Set-like view of the keys heavier than ``n`` awaiting eviction, oldest
        first; they are evicted before any other key."""
        return self._view(2)

    cdef object _view(self, int which):
        if self._views is None:
            self._views = (WeightsView(self), OrderView(self), HeavyView(self))
        return self._views[which]

    @property
    def _cancel_evict(self):
        """Keys whose eviction is running -> whether it was cancelled (as zict)."""
        cdef unsigned int i = self.st.evhead
        out = {}
        while i:
            key = <object>zc_N(&self.st, i).key
            cancelled = bool(zc_N(&self.st, i).flags & ZC_F_CANCELLED)
            out[key] = out.get(key, False) or cancelled
            i = zc_N(&self.st, i).evnext
        return out

    def _evicting_keys(self):
        """Keys whose on_evict callbacks are running (for Buffer.__len__)."""
        cdef unsigned int i = self.st.evhead
        out = []
        while i:
            out.append(<object>zc_N(&self.st, i).key)
            i = zc_N(&self.st, i).evnext
        return out

    @property
    def stats(self):
        """The counters as an :class:`LRUStats` snapshot (hits, misses, evictions)."""
        return LRUStats(self._hits, self._misses, self._evictions)

    def reset_stats(self):
        """Zero the counters of :attr:`stats`."""
        self._hits = self._misses = self._evictions = 0
        zn_clear(&self._evicted_weight)

    def _nbytes(self):
        """Bytes of C memory held by the ordering/weights store (not by d)."""
        return zc_store_nbytes(&self.st)

    # ------------------------------------------------------------------- misc

    def __str__(self):
        sub = "dict" if isinstance(self._d, dict) else str(self._d)
        s = zn_to_obj(&self._total) + zn_to_obj(&self._offset)
        return f"<{type(self).__name__}: {s}/{zn_to_obj(&self._n)} on {sub}>"

    def __repr__(self):
        return self.__str__()

    def flush(self):
        """Flush ``d`` if it supports it."""
        _flush_all(self._d)

    def close(self):
        """Stop any eviction loop and close ``d``."""
        self._closed = True
        _close_all(self._d)

    def __reduce__(self):
        cdef unsigned int i = self.st.head
        cdef unsigned int j = self.st.hhead
        order = []
        while i:
            order.append((<object>zc_N(&self.st, i).key, self._node_weight(i)))
            i = zc_N(&self.st, i).next
        heavy = []
        while j:
            heavy.append(<object>zc_N(&self.st, j).key)
            j = zc_next_heavy(&self.st, j)
        state = {
            "d": self._d,
            "n": self.n,
            "offset": self.offset,
            "total_weight": self.total_weight,
            "weight": self._weight,
            "on_evict": self._on_evict,
            "on_cancel_evict": self._on_cancel_evict,
            "closed": self._closed,
            "order": order,
            "heavy": heavy,
            "stats": tuple(self.stats),
            "dict": getattr(self, "__dict__", None) or None,
        }
        return new_instance, (type(self),), state

    def __setstate__(self, dict state):
        cdef zc_num w
        cdef unsigned int i
        cdef Py_hash_t h
        if self.st.used:
            raise RuntimeError("__setstate__ on a non-empty LRU")
        LRU.__init__(
            self,
            state["n"],
            {},
            on_evict=state["on_evict"],
            on_cancel_evict=state["on_cancel_evict"],
            weight=state["weight"],
        )
        self._d = state["d"]
        self._d_is_dict = type(self._d) is dict
        self.offset = state["offset"]
        heavy = set(state["heavy"])
        for key, weight in state["order"]:
            h = zc_hash(key)
            zn_from_obj(weight, &w, "weight")
            try:
                i = zc_prepare(&self.st, key, h, &w, key in heavy)
                if i == 0:
                    raise MemoryError()
                zc_link(&self.st, i, False)
            finally:
                zn_clear(&w)
        for key in state["heavy"]:
            i = self._find(key, zc_hash(key))
            _heavy_add(self, i)
        zn_clear(&self._total)
        zn_from_obj(state["total_weight"], &self._total, "total_weight")
        self._closed = state["closed"]
        self._hits, self._misses, self._evictions = state["stats"]
        if state["dict"]:
            getattr(self, "__dict__").update(state["dict"])


cdef extern from "zc_store.h":
    int zc_heavy_add(zc_store *s, unsigned int i) except -1


cdef int _heavy_add(LRU lru, unsigned int i) except -1:
    return zc_heavy_add(&lru.st, i)


# --------------------------------------------------------------------- views


cdef class _LRUView:
    cdef LRU lru

    def __cinit__(self, LRU lru):
        self.lru = lru

    def __len__(self):
        return self._count()

    cdef Py_ssize_t _count(self):
        return self.lru.st.used

    cdef unsigned int _first(self):
        return self.lru.st.head

    cdef unsigned int _next(self, unsigned int i):
        return zc_N(&self.lru.st, i).next

    def __iter__(self):
        cdef LRU lru = self.lru
        cdef unsigned int i = self._first()
        cdef unsigned long long version = lru.st.version
        while i:
            key = <object>zc_N(&lru.st, i).key
            yield key
            if lru.st.version != version:
                raise RuntimeError("LRU changed size or order during iteration")
            i = self._next(i)

    def __contains__(self, key):
        cdef unsigned int i
        try:
            i = self.lru._find(key, zc_hash(key))
        except TypeError:
            return False
        return self._has(i)

    cdef bint _has(self, unsigned int i):
        return i != 0

    def __repr__(self):
        return f"{type(self).__name__}({list(self)!r})"

    def __reduce__(self):
        raise TypeError(f"cannot pickle a {type(self).__name__}: pickle the LRU")


cdef class _HeavyViewBase(_LRUView):
    cdef Py_ssize_t _count(self):
        return self.lru.st.nheavy

    cdef unsigned int _first(self):
        return self.lru.st.hhead

    cdef unsigned int _next(self, unsigned int i):
        return zc_next_heavy(&self.lru.st, i)

    cdef bint _has(self, unsigned int i):
        return i != 0 and zc_N(&self.lru.st, i).flags & ZC_F_HEAVY


class OrderView(_LRUView, Set):
    """Keys of an LRU, least recently used first (read-only, set-like)."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        return set(it)


class HeavyView(_HeavyViewBase, Set):
    """Keys heavier than ``n`` awaiting eviction, oldest first (read-only)."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        return set(it)


cdef class _WeightsViewBase(_LRUView):
    def __repr__(self):
        return f"{type(self).__name__}({dict(self.items())!r})"

    def __getitem__(self, key):
        cdef unsigned int i = self.lru._find(key, zc_hash(key))
        if i == 0:
            raise KeyError(key)
        return self.lru._node_weight(i)


class WeightsView(_WeightsViewBase, Mapping):
    """Read-only mapping key -> weight of an LRU, in LRU order."""

    __slots__ = ()


# GC: the store holds references to keys (and exotic weights) that Cython's
# generated tp_traverse/tp_clear do not know about. Chain our own onto them.
ctypedef int (*_traverseproc)(PyObject *, visitproc, void *) noexcept
ctypedef int (*_inquiry)(PyObject *) noexcept

cdef _traverseproc _cython_traverse = <_traverseproc>(<PyTypeObject *>LRU).tp_traverse
cdef _inquiry _cython_clear = <_inquiry>(<PyTypeObject *>LRU).tp_clear


cdef int _lru_traverse(PyObject *o, visitproc visit, void *arg) noexcept:
    cdef int r = _cython_traverse(o, visit, arg)
    if r:
        return r
    return zc_store_traverse(&(<LRU><object>o).st, visit, arg)


cdef int _lru_clear(PyObject *o) noexcept:
    zc_store_clear(&(<LRU><object>o).st)
    return _cython_clear(o)


(<PyTypeObject *>LRU).tp_traverse = <traverseproc>_lru_traverse
(<PyTypeObject *>LRU).tp_clear = <inquiry>_lru_clear
