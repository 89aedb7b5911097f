/* zc_rlock.h: a reentrant lock whose bookkeeping is protected by the GIL.
 *
 * Every zict_core mapping takes its lock on every operation, so the uncontended
 * path must cost next to nothing: while the caller holds the GIL, no other thread
 * can touch `owner`/`count`, so taking a free lock (or re-taking our own) is two
 * plain stores. Only a thread that finds the lock held by another thread touches
 * the OS: it drops the GIL and sleeps on `sem` until a release signals it.
 *
 * Not for free-threaded (no-GIL) builds: there the GIL no longer guards the fields.
 */
#ifndef ZC_RLOCK_H
#define ZC_RLOCK_H

#include <Python.h>
#include "pythread.h"

#ifdef _WIN32
#include <windows.h>
static inline double zc_monotonic(void) { return (double)GetTickCount64() / 1e3; }
#else
#include <time.h>
static inline double zc_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
#endif

typedef struct {
    unsigned long owner;   /* thread ident of the holder; meaningful while count > 0 */
    Py_ssize_t count;      /* recursion depth; 0 = free */
    Py_ssize_t waiters;    /* threads sleeping (or about to sleep) on sem */
    int signaled;          /* sem has been released and nobody consumed it yet */
    PyThread_type_lock sem;/* binary semaphore, normally held: releasing it wakes one waiter */
} zc_rlock;

/* 0 on success, -1 with MemoryError set. */
static inline int zc_rlock_init(zc_rlock *l) {
    l->owner = 0;
    l->count = 0;
    l->waiters = 0;
    l->signaled = 0;
    l->sem = PyThread_allocate_lock();
    if (l->sem == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyThread_acquire_lock(l->sem, WAIT_LOCK); /* start "empty" */
    return 0;
}

static inline void zc_rlock_free(zc_rlock *l) {
    if (l->sem != NULL) {
        if (!l->signaled) {
            /* free a lock in the released state, as some platforms require */
            PyThread_release_lock(l->sem);
        }
        PyThread_free_lock(l->sem);
        l->sem = NULL;
    }
}

/* Fast path: returns 1 if taken, 0 if another thread holds it. Never blocks. */
static inline int zc_rlock_try(zc_rlock *l) {
    unsigned long me = PyThread_get_thread_ident();
    if (l->count == 0) {
        l->owner = me;
        l->count = 1;
        return 1;
    }
    if (l->owner == me) {
        l->count++;
        return 1;
    }
    return 0;
}

/* Slow path: wait with the GIL released. timeout < 0 waits forever.
 * With `intr`, signal handlers run while waiting. Returns 1 if acquired, 0 on
 * timeout, -1 with an exception set (a signal handler raised). */
static inline int zc_rlock_wait(zc_rlock *l, double timeout, int intr) {
    double deadline = timeout > 0 ? zc_monotonic() + timeout : 0.0;
    int result = 0;
    l->waiters++;
    for (;;) {
        PY_TIMEOUT_T us;
        PyLockStatus st;
        if (zc_rlock_try(l)) {
            result = 1;
            break;
        }
        if (timeout == 0) {
            break;
        }
        if (timeout < 0) {
            us = -1;
        } else {
            double left = deadline - zc_monotonic();
            if (left <= 0) {
                break;
            }
            us = (PY_TIMEOUT_T)(left * 1e6);
        }
        Py_BEGIN_ALLOW_THREADS
        st = PyThread_acquire_lock_timed(l->sem, us, intr);
        Py_END_ALLOW_THREADS
        if (st == PY_LOCK_ACQUIRED) {
            l->signaled = 0; /* consumed; sem is held again */
        } else if (st == PY_LOCK_INTR) {
            if (Py_MakePendingCalls() < 0) {
                result = -1;
                break;
            }
        }
    }
    l->waiters--;
    return result;
}

static inline int zc_rlock_acquire(zc_rlock *l) {
    if (zc_rlock_try(l)) {
        return 1;
    }
    return zc_rlock_wait(l, -1.0, 1);
}

/* Take the lock back after running callbacks without it: never gives up. */
static inline void zc_rlock_reacquire(zc_rlock *l) {
    if (!zc_rlock_try(l)) {
        zc_rlock_wait(l, -1.0, 0);
    }
}

static inline int zc_rlock_is_owned(zc_rlock *l) {
    return l->count > 0 && l->owner == PyThread_get_thread_ident();
}

/* Release one level. Returns 0, or -1 with RuntimeError if not held by this thread. */
static inline int zc_rlock_release(zc_rlock *l) {
    if (l->count == 0 || l->owner != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
        return -1;
    }
    if (--l->count == 0 && l->waiters > 0 && !l->signaled) {
        l->signaled = 1;
        PyThread_release_lock(l->sem);
    }
    return 0;
}

/* Release one level of a lock this thread is known to hold (the mappings' own
 * acquire/release pairs): skips the ownership check. */
static inline int zc_rlock_release_owned(zc_rlock *l) {
    if (--l->count == 0 && l->waiters > 0 && !l->signaled) {
        l->signaled = 1;
        PyThread_release_lock(l->sem);
    }
    return 0;
}

#endif /* ZC_RLOCK_H */
