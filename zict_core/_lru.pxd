# cython: language_level=3
cimport cython
from cpython.object cimport PyObject

from zict_core._base cimport ZictCore


cdef extern from "zc_num.h":
    ctypedef struct zc_num:
        int kind


cdef extern from "zc_store.h":
    ctypedef struct zc_node:
        PyObject *key
        Py_hash_t hash
        unsigned int prev
        unsigned int next
        unsigned int flags
        unsigned int evnext

    ctypedef struct zc_store:
        Py_ssize_t used
        unsigned int head
        unsigned int tail
        unsigned int hhead
        Py_ssize_t nheavy
        Py_ssize_t nevicting
        unsigned int evhead
        unsigned long long version


cdef class LRU(ZictCore):
    cdef zc_store st
    cdef object _d
    cdef bint _d_is_dict
    cdef zc_num _n
    cdef zc_num _offset
    cdef zc_num _total
    cdef zc_num _inflight
    cdef zc_num _evicted_weight  # total weight of completed evictions (Buffer: spilled)
    cdef object _weight
    cdef bint _unit_weight
    cdef object _on_evict
    cdef object _on_cancel_evict
    cdef bint _closed
    cdef bint _virtual
    cdef object _views
    cdef dict _retired
    cdef public unsigned long long _hits, _misses, _evictions
    cdef object __weakref__
    cdef dict __dict__

    cdef int _adopt(self, object key, object value) except -1

    @cython.final
    cdef int _weigh(self, object key, object value, zc_num *w) except -1

    cdef object _node_weight(self, unsigned int i)

    @cython.final
    cdef int _d_set(self, object key, Py_hash_t h, object value) except -1

    @cython.final
    cdef int _d_del(self, object key, Py_hash_t h) except -1

    @cython.final
    cdef unsigned int _find(self, object key, Py_hash_t h) except? 0xFFFFFFFF

    cdef object _view(self, int which)

    @cython.final
    cdef object _get(self, object key)

    @cython.final
    cdef object _get_or(self, object key, object default, bint count)

    @cython.final
    cdef object _peek(self, object key, Py_hash_t h)

    cdef int _set_noevict(self, object key, object value) except -1

    @cython.final
    cdef int _insert(self, object key, Py_hash_t h, object value, zc_num *w) except -1

    cdef tuple _evict(self, object key)

    @cython.final
    cdef tuple _evict_at(self, unsigned int i, bint want_result)

    cdef int _total_after(self, unsigned int old, zc_num *w, zc_num *out) except -1

    cdef int _evict_until_below(self, object n) except -1

    cdef int _over_target(self, object n) except -1

    cdef unsigned int _victim(self, bint skip_inflight)

    cdef int _evict_step(self) except -1

    cdef bint _busy(self, unsigned int i)

    cdef bint _is_evicting(self, object key) except -1

    cdef int _retire(self, unsigned int i, PyObject **k, PyObject **wo) except -1

    cdef int _after_set(self, object key) except -1

    cdef int _heavy_fallback(self, object key) except -1
