/* zc_num.h: weight arithmetic in C that gives exactly the results Python would.
 *
 * A weight, a total, `n` and `offset` are each an exact int that fits in 64 bits
 * (ZN_INT), a float (ZN_DBL), or any other Python number (ZN_OBJ, kept as an
 * object). INT/DBL combinations follow CPython's own rules (int op int stays int
 * unless it overflows; int op float converts the int to a double first; int vs
 * float comparisons are exact), so `total_weight` has the same type and value as
 * zict's `total_weight += weight` would. Anything else falls back to the Python
 * number protocol, so Decimal, Fraction or numpy scalars still work.
 */
#ifndef ZC_NUM_H
#define ZC_NUM_H

#include <Python.h>
#include <limits.h>
#include <math.h>

enum { ZN_INT = 1, ZN_DBL = 2, ZN_OBJ = 3 };

typedef struct {
    int kind;
    union {
        long long i;
        double d;
        PyObject *o; /* owned */
    } v;
} zc_num;

#if defined(_MSC_VER) && !defined(__clang__)
static inline int zn_add_ovf(long long a, long long b, long long *r) {
    if ((b > 0 && a > LLONG_MAX - b) || (b < 0 && a < LLONG_MIN - b)) return 1;
    *r = a + b;
    return 0;
}
static inline int zn_sub_ovf(long long a, long long b, long long *r) {
    if ((b < 0 && a > LLONG_MAX + b) || (b > 0 && a < LLONG_MIN + b)) return 1;
    *r = a - b;
    return 0;
}
#else
#define zn_add_ovf(a, b, r) __builtin_add_overflow((a), (b), (r))
#define zn_sub_ovf(a, b, r) __builtin_sub_overflow((a), (b), (r))
#endif

#define ZN_EXACT_DBL_LIMIT 9007199254740992LL /* 2**53 */

static inline void zn_set_int(zc_num *x, long long i) { x->kind = ZN_INT; x->v.i = i; }

static inline void zn_clear(zc_num *x) {
    if (x->kind == ZN_OBJ) {
        Py_CLEAR(x->v.o);
    }
    zn_set_int(x, 0);
}

/* Read a Python number. 0 on success, -1 with an exception set. The caller owns
 * the result (call zn_clear). Non-numbers raise TypeError naming `what`. */
static inline int zn_from_obj(PyObject *obj, zc_num *out, const char *what) {
    if (PyLong_CheckExact(obj)) {
        int overflow = 0;
        long long i = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (i == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (!overflow) {
            zn_set_int(out, i);
            return 0;
        }
    } else if (PyFloat_CheckExact(obj)) {
        out->kind = ZN_DBL;
        out->v.d = PyFloat_AS_DOUBLE(obj);
        return 0;
    } else if (!PyNumber_Check(obj) || PyComplex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a real number, got %.200s",
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    out->kind = ZN_OBJ;
    Py_INCREF(obj);
    out->v.o = obj;
    return 0;
}

/* New reference to the value as a Python object. */
static inline PyObject *zn_to_obj(const zc_num *x) {
    switch (x->kind) {
    case ZN_INT:
        return PyLong_FromLongLong(x->v.i);
    case ZN_DBL:
        return PyFloat_FromDouble(x->v.d);
    default:
        Py_INCREF(x->v.o);
        return x->v.o;
    }
}

static inline void zn_copy(zc_num *dst, const zc_num *src) {
    *dst = *src;
    if (src->kind == ZN_OBJ) {
        Py_INCREF(src->v.o);
    }
}

/* out = a + b (sign > 0) or a - b (sign < 0), as Python computes it.
 * `out` may alias `a`. 0 on success, -1 with an exception set (out unchanged). */
static inline int zn_addsub(zc_num *out, const zc_num *a, const zc_num *b, int sign) {
    if (a->kind == ZN_INT && b->kind == ZN_INT) {
        long long r;
        int ovf = sign > 0 ? zn_add_ovf(a->v.i, b->v.i, &r)
                           : zn_sub_ovf(a->v.i, b->v.i, &r);
        if (!ovf) {
            zn_set_int(out, r);
            return 0;
        }
    } else if (a->kind != ZN_OBJ && b->kind != ZN_OBJ) {
        double x = a->kind == ZN_INT ? (double)a->v.i : a->v.d;
        double y = b->kind == ZN_INT ? (double)b->v.i : b->v.d;
        out->kind = ZN_DBL;
        out->v.d = sign > 0 ? x + y : x - y;
        return 0;
    }
    {
        PyObject *x = zn_to_obj(a), *y = NULL, *r = NULL;
        zc_num tmp;
        int rc = -1;
        if (x == NULL) return -1;
        y = zn_to_obj(b);
        if (y == NULL) goto done;
        r = sign > 0 ? PyNumber_Add(x, y) : PyNumber_Subtract(x, y);
        if (r == NULL) goto done;
        if (zn_from_obj(r, &tmp, "total weight") < 0) goto done;
        if (out == a || out == b) {
            zc_num old = *out;
            *out = tmp;
            zn_clear(&old);
        } else {
            *out = tmp;
        }
        rc = 0;
    done:
        Py_XDECREF(x);
        Py_XDECREF(y);
        Py_XDECREF(r);
        return rc;
    }
}

/* a > b as Python would answer it: 1, 0, or -1 with an exception set. */
static inline int zn_gt(const zc_num *a, const zc_num *b) {
    if (a->kind == ZN_INT && b->kind == ZN_INT) {
        return a->v.i > b->v.i;
    }
    if (a->kind == ZN_DBL && b->kind == ZN_DBL) {
        return a->v.d > b->v.d;
    }
    if (a->kind == ZN_INT && b->kind == ZN_DBL &&
        a->v.i <= ZN_EXACT_DBL_LIMIT && a->v.i >= -ZN_EXACT_DBL_LIMIT) {
        return (double)a->v.i > b->v.d;
    }
    if (a->kind == ZN_DBL && b->kind == ZN_INT &&
        b->v.i <= ZN_EXACT_DBL_LIMIT && b->v.i >= -ZN_EXACT_DBL_LIMIT) {
        return a->v.d > (double)b->v.i;
    }
    {
        PyObject *x = zn_to_obj(a), *y;
        int r;
        if (x == NULL) return -1;
        y = zn_to_obj(b);
        if (y == NULL) {
            Py_DECREF(x);
            return -1;
        }
        r = PyObject_RichCompareBool(x, y, Py_GT);
        Py_DECREF(x);
        Py_DECREF(y);
        return r;
    }
}

/* a >= b: 1, 0, or -1 with an exception set. */
static inline int zn_ge(const zc_num *a, const zc_num *b) {
    int r = zn_gt(b, a);
    if (r < 0) return -1;
    if (r) return 0;
    /* not (b > a): a >= b unless one side is NaN */
    if ((a->kind == ZN_DBL && isnan(a->v.d)) || (b->kind == ZN_DBL && isnan(b->v.d))) {
        return 0;
    }
    if (a->kind == ZN_OBJ || b->kind == ZN_OBJ) {
        PyObject *x = zn_to_obj(a), *y;
        if (x == NULL) return -1;
        y = zn_to_obj(b);
        if (y == NULL) { Py_DECREF(x); return -1; }
        r = PyObject_RichCompareBool(x, y, Py_GE);
        Py_DECREF(x);
        Py_DECREF(y);
        return r;
    }
    return 1;
}

/* 1 if x is NaN (any kind), 0 if not, -1 with an exception set. */
static inline int zn_isnan(const zc_num *x) {
    if (x->kind == ZN_INT) return 0;
    if (x->kind == ZN_DBL) return isnan(x->v.d) != 0;
    {
        /* RichCompareBool would answer "equal" from identity alone */
        PyObject *ne = PyObject_RichCompare(x->v.o, x->v.o, Py_NE);
        int r;
        if (ne == NULL) return -1;
        r = PyObject_IsTrue(ne);
        Py_DECREF(ne);
        return r;
    }
}

#endif /* ZC_NUM_H */
