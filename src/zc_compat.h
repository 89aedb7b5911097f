/* zc_compat.h: dict calls that reuse a hash we already have, on every CPython. */
#ifndef ZC_COMPAT_H
#define ZC_COMPAT_H

#include <Python.h>

/* hash(key), reading a str's cached hash directly (as dict lookups do). */
static inline Py_hash_t zc_hash(PyObject *key) {
    if (PyUnicode_CheckExact(key)) {
        Py_hash_t h = ((PyASCIIObject *)key)->hash;
        if (h != -1) return h;
    }
    return PyObject_Hash(key);
}

/* Borrowed reference, or NULL (with an exception set only on error). */
static inline PyObject *zc_dict_get(PyObject *d, PyObject *key, Py_hash_t hash) {
#if PY_VERSION_HEX < 0x030E0000
    return _PyDict_GetItem_KnownHash(d, key, hash);
#else
    PyObject *v;
    (void)hash;
    v = PyDict_GetItemWithError(d, key);
    return v;
#endif
}

static inline int zc_dict_set(PyObject *d, PyObject *key, Py_hash_t hash, PyObject *v) {
#if PY_VERSION_HEX < 0x030D0000
    return _PyDict_SetItem_KnownHash(d, key, v, hash);
#else
    (void)hash;
    return PyDict_SetItem(d, key, v);
#endif
}

/* Raises KeyError(key) if absent. */
static inline int zc_dict_del(PyObject *d, PyObject *key, Py_hash_t hash) {
#if PY_VERSION_HEX < 0x030D0000
    return _PyDict_DelItem_KnownHash(d, key, hash);
#else
    (void)hash;
    return PyDict_DelItem(d, key);
#endif
}

/* 1 and a borrowed *out if key is in d, 0 if not, -1 with an exception set. */
static inline int zc_dict_lookup(PyObject *d, PyObject *key, Py_hash_t hash, PyObject **out) {
    *out = zc_dict_get(d, key, hash);
    if (*out != NULL) return 1;
    return PyErr_Occurred() ? -1 : 0;
}

/* New reference to d[key], or NULL with KeyError(key) (or another error) set. */
static inline PyObject *zc_dict_getitem(PyObject *d, PyObject *key, Py_hash_t hash) {
    PyObject *v = zc_dict_get(d, key, hash);
    if (v == NULL) {
        if (!PyErr_Occurred()) {
            PyObject *args = PyTuple_Pack(1, key);
            if (args != NULL) {
                PyErr_SetObject(PyExc_KeyError, args);
                Py_DECREF(args);
            }
        }
        return NULL;
    }
    Py_INCREF(v);
    return v;
}

#endif /* ZC_COMPAT_H */
