# cython: language_level=3
"""The compiled base of zict_core's accelerated mappings and their C-level lock."""

cdef extern from "zc_rlock.h":
    ctypedef struct zc_rlock:
        Py_ssize_t count
    int zc_rlock_init(zc_rlock *l) except -1
    void zc_rlock_free(zc_rlock *l)
    int zc_rlock_try(zc_rlock *l)
    int zc_rlock_wait(zc_rlock *l, double timeout, int intr) except -1
    int zc_rlock_acquire(zc_rlock *l) except -1
    void zc_rlock_reacquire(zc_rlock *l)
    int zc_rlock_release(zc_rlock *l) except -1
    int zc_rlock_release_owned(zc_rlock *l)
    bint zc_rlock_is_owned(zc_rlock *l)


cdef class RLock:
    cdef zc_rlock st


cdef class ZictCore:
    cdef readonly RLock lock

    # Every method of a compiled mapping brackets its work with these.
    cdef inline int _acquire(self) except -1:
        return zc_rlock_acquire(&self.lock.st)

    cdef inline int _release(self) except -1:
        # only ever paired with a successful _acquire in the same method
        return zc_rlock_release_owned(&self.lock.st)


cdef list as_callbacks(object cbs, str what)
