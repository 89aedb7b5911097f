/* zc_store.h: the LRU's bookkeeping in C.
 *
 * Nodes, one per key, live in fixed-size chunks (their addresses never move) and
 * are named by 32-bit indexes (0 = none). A node keeps its key (a strong
 * reference) and the key's hash, so no later operation calls __hash__ again.
 *
 *   - `slots` is an open-addressing index (linear probing, backward-shift
 *     deletion, no tombstones) from hash to node index: O(1) lookup.
 *   - `prev`/`next` thread all live nodes into the order list, least recently
 *     used at `head`, most recently used at `tail`: O(1) touch, insert, unlink.
 *   - keys heavier than n are also threaded into a second list (`hprev`/`hnext`,
 *     in a per-chunk side table allocated only when needed): O(1) "oldest heavy".
 *   - weights equal to the int 1 (the default weight function) need no storage;
 *     other weights go into the same side table.
 *
 * A node whose eviction is in progress when its key is deleted or replaced is
 * unlinked from everything but kept allocated ("retired") until the evicting
 * thread collects it, so that thread can learn the eviction was cancelled.
 */
#ifndef ZC_STORE_H
#define ZC_STORE_H

#include <Python.h>
#include <stdint.h>
#include <string.h>
#include "zc_num.h"

#define ZC_CHUNK_SHIFT 10
#define ZC_CHUNK_SIZE (1u << ZC_CHUNK_SHIFT)
#define ZC_CHUNK_MASK (ZC_CHUNK_SIZE - 1u)

/* Chunk sizes grow so that a small LRU stays small: chunks 0..6 hold the nodes
 * [0,16), [16,32), [32,64), ..., [512,1024); from then on chunk 6+k holds
 * [1024k, 1024(k+1)). Returns the chunk of node i and its offset in it. */
static inline uint32_t zc_chunk_of(uint32_t i, uint32_t *off) {
    uint32_t b;
    if (i >= ZC_CHUNK_SIZE) {
        *off = i & ZC_CHUNK_MASK;
        return (i >> ZC_CHUNK_SHIFT) + 6;
    }
    if (i < 16) {
        *off = i;
        return 0;
    }
#if defined(_MSC_VER) && !defined(__clang__)
    {
        unsigned long idx;
        _BitScanReverse(&idx, i);
        b = (uint32_t)idx;
    }
#else
    b = 31u - (uint32_t)__builtin_clz(i); /* 4..9 */
#endif
    *off = i - (1u << b);
    return b - 3;
}

/* Number of nodes chunk c holds. */
static inline uint32_t zc_chunk_len(uint32_t c) {
    return c == 0 ? 16u : c <= 6 ? (8u << c) : ZC_CHUNK_SIZE;
}

/* node flags */
#define ZC_W_UNIT 0u        /* weight is the int 1 */
#define ZC_W_INT 1u
#define ZC_W_DBL 2u
#define ZC_W_OBJ 3u
#define ZC_F_WKIND 3u
#define ZC_F_LIVE 4u        /* in the index and the order list */
#define ZC_F_HEAVY 8u       /* in the heavy list */
#define ZC_F_EVICTING 16u   /* on_evict callbacks are running for it */
#define ZC_F_CANCELLED 32u  /* deleted/replaced while EVICTING */

typedef struct {
    PyObject *key;    /* owned; NULL while on the free list */
    Py_hash_t hash;
    uint32_t prev, next; /* order list; `next` links the free list */
    uint32_t flags;
    uint32_t evnext;  /* next node of the evicting list */
} zc_node;

typedef struct {
    union {
        long long i;
        double d;
        PyObject *o; /* owned */
    } w;
    uint32_t hprev, hnext;
} zc_ext;

typedef struct {
    zc_node *nodes;  /* zc_chunk_len(c) nodes */
    zc_ext *ext;     /* NULL until a node of this chunk needs it */
} zc_chunk;

typedef struct {
    zc_chunk *chunks;
    uint32_t nchunks, chunks_cap;
    uint32_t fresh;        /* next never-used index */
    uint32_t free_head;    /* free list through node.next */
    uint32_t *slots;       /* index: node index or 0 */
    size_t mask;           /* capacity - 1 (capacity is a power of two) */
    Py_ssize_t used;       /* live nodes (= entries in the index) */
    uint32_t head, tail;   /* order list */
    uint32_t hhead, htail; /* heavy list */
    Py_ssize_t nheavy;
    Py_ssize_t nevicting;  /* nodes with ZC_F_EVICTING (live or retired) */
    uint32_t evhead;       /* those nodes, threaded through evnext (a handful) */
    uint64_t version;      /* bumped by every change of index or order */
} zc_store;

static inline zc_node *zc_N(const zc_store *s, uint32_t i) {
    uint32_t off, c = zc_chunk_of(i, &off);
    return &s->chunks[c].nodes[off];
}

/* The side table entry of node i; NULL if not allocated (then the node has a
 * unit weight and is not heavy). */
static inline zc_ext *zc_X(const zc_store *s, uint32_t i) {
    uint32_t off, c = zc_chunk_of(i, &off);
    zc_ext *e = s->chunks[c].ext;
    return e ? &e[off] : NULL;
}

static inline zc_ext *zc_X_alloc(zc_store *s, uint32_t i) {
    uint32_t off, ci = zc_chunk_of(i, &off);
    zc_chunk *c = &s->chunks[ci];
    if (c->ext == NULL) {
        c->ext = (zc_ext *)PyMem_Calloc(zc_chunk_len(ci), sizeof(zc_ext));
        if (c->ext == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
    }
    return &c->ext[off];
}

#define ZC_MIN_SLOTS 8

static inline int zc_store_init(zc_store *s) {
    memset(s, 0, sizeof(*s));
    s->fresh = 1; /* index 0 means "none" */
    s->slots = (uint32_t *)PyMem_Calloc(ZC_MIN_SLOTS, sizeof(uint32_t));
    if (s->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->mask = ZC_MIN_SLOTS - 1;
    return 0;
}

/* ---- node weights ---- */

static inline void zc_weight_get(const zc_store *s, uint32_t i, zc_num *out) {
    const zc_node *n = zc_N(s, i);
    const zc_ext *x;
    switch (n->flags & ZC_F_WKIND) {
    case ZC_W_UNIT:
        zn_set_int(out, 1);
        return;
    case ZC_W_INT:
        x = zc_X(s, i);
        zn_set_int(out, x->w.i);
        return;
    case ZC_W_DBL:
        x = zc_X(s, i);
        out->kind = ZN_DBL;
        out->v.d = x->w.d;
        return;
    default: /* borrowed: caller must not zn_clear it */
        x = zc_X(s, i);
        out->kind = ZN_OBJ;
        out->v.o = x->w.o;
        return;
    }
}

/* Store weight w (borrowed; an OBJ gets its own reference). -1 on MemoryError. */
static inline int zc_weight_set(zc_store *s, uint32_t i, const zc_num *w) {
    zc_node *n = zc_N(s, i);
    zc_ext *x;
    n->flags &= ~ZC_F_WKIND;
    if (w->kind == ZN_INT && w->v.i == 1) {
        return 0;
    }
    x = zc_X_alloc(s, i);
    if (x == NULL) return -1;
    if (w->kind == ZN_INT) {
        x->w.i = w->v.i;
        n->flags |= ZC_W_INT;
    } else if (w->kind == ZN_DBL) {
        x->w.d = w->v.d;
        n->flags |= ZC_W_DBL;
    } else {
        Py_INCREF(w->v.o);
        x->w.o = w->v.o;
        n->flags |= ZC_W_OBJ;
    }
    return 0;
}

/* ---- node allocation ---- */

/* A fresh node index with all fields zeroed (key NULL). 0 with MemoryError. */
static inline uint32_t zc_node_alloc(zc_store *s) {
    uint32_t i, off;
    if (s->free_head) {
        i = s->free_head;
        s->free_head = zc_N(s, i)->next;
    } else {
        if (s->fresh == UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "too many keys in one LRU");
            return 0;
        }
        i = s->fresh;
        if (zc_chunk_of(i, &off) >= s->nchunks) {
            if (s->nchunks == s->chunks_cap) {
                uint32_t cap = s->chunks_cap ? s->chunks_cap * 2 : 4;
                zc_chunk *c = (zc_chunk *)PyMem_Realloc(s->chunks, cap * sizeof(zc_chunk));
                if (c == NULL) {
                    PyErr_NoMemory();
                    return 0;
                }
                s->chunks = c;
                s->chunks_cap = cap;
            }
            s->chunks[s->nchunks].nodes =
                (zc_node *)PyMem_Calloc(zc_chunk_len(s->nchunks), sizeof(zc_node));
            s->chunks[s->nchunks].ext = NULL;
            if (s->chunks[s->nchunks].nodes == NULL) {
                PyErr_NoMemory();
                return 0;
            }
            s->nchunks++;
        }
        s->fresh++;
    }
    memset(zc_N(s, i), 0, sizeof(zc_node));
    return i;
}

/* Return node i to the free list. Its key reference is handed to *key_out (the
 * caller DECREFs it once the store is consistent again: a __del__ may run), its
 * OBJ weight to *w_out (same). */
static inline void zc_node_free(zc_store *s, uint32_t i, PyObject **key_out, PyObject **w_out) {
    zc_node *n = zc_N(s, i);
    *key_out = n->key;
    *w_out = NULL;
    if ((n->flags & ZC_F_WKIND) == ZC_W_OBJ) {
        zc_ext *x = zc_X(s, i);
        *w_out = x->w.o;
        x->w.o = NULL;
    }
    n->key = NULL;
    n->flags = 0;
    n->next = s->free_head;
    s->free_head = i;
}

/* ---- order list and heavy list ---- */

static inline void zc_order_unlink(zc_store *s, uint32_t i) {
    zc_node *n = zc_N(s, i);
    if (n->prev) zc_N(s, n->prev)->next = n->next; else s->head = n->next;
    if (n->next) zc_N(s, n->next)->prev = n->prev; else s->tail = n->prev;
    n->prev = n->next = 0;
}

static inline void zc_order_append(zc_store *s, uint32_t i) {
    zc_node *n = zc_N(s, i);
    n->prev = s->tail;
    n->next = 0;
    if (s->tail) zc_N(s, s->tail)->next = i; else s->head = i;
    s->tail = i;
}

/* Make node i the most recently used. */
static inline void zc_touch(zc_store *s, uint32_t i) {
    if (s->tail != i) {
        zc_order_unlink(s, i);
        zc_order_append(s, i);
        s->version++;
    }
}

static inline int zc_heavy_add(zc_store *s, uint32_t i) {
    zc_node *n = zc_N(s, i);
    zc_ext *x;
    if (n->flags & ZC_F_HEAVY) return 0;
    x = zc_X_alloc(s, i);
    if (x == NULL) return -1;
    x->hprev = s->htail;
    x->hnext = 0;
    if (s->htail) zc_X(s, s->htail)->hnext = i; else s->hhead = i;
    s->htail = i;
    n->flags |= ZC_F_HEAVY;
    s->nheavy++;
    s->version++;
    return 0;
}

static inline void zc_heavy_discard(zc_store *s, uint32_t i) {
    zc_node *n = zc_N(s, i);
    zc_ext *x;
    if (!(n->flags & ZC_F_HEAVY)) return;
    x = zc_X(s, i);
    if (x->hprev) zc_X(s, x->hprev)->hnext = x->hnext; else s->hhead = x->hnext;
    if (x->hnext) zc_X(s, x->hnext)->hprev = x->hprev; else s->htail = x->hprev;
    x->hprev = x->hnext = 0;
    n->flags &= ~ZC_F_HEAVY;
    s->nheavy--;
    s->version++;
}

static inline uint32_t zc_next_heavy(const zc_store *s, uint32_t i) {
    return zc_X(s, i)->hnext;
}

/* ---- the evicting list: nodes whose on_evict callbacks are running ---- */

static inline void zc_ev_push(zc_store *s, uint32_t i) {
    zc_node *n = zc_N(s, i);
    n->flags |= ZC_F_EVICTING;
    n->evnext = s->evhead;
    s->evhead = i;
    s->nevicting++;
}

/* O(number of evictions running): one per thread at most, in practice. */
static inline void zc_ev_remove(zc_store *s, uint32_t i) {
    uint32_t *p = &s->evhead;
    while (*p && *p != i) p = &zc_N(s, *p)->evnext;
    if (*p) *p = zc_N(s, i)->evnext;
    zc_N(s, i)->evnext = 0;
    zc_N(s, i)->flags &= ~(ZC_F_EVICTING | ZC_F_CANCELLED);
    s->nevicting--;
}

/* ---- the index ---- */

/* Find key. Returns its node index, 0 if absent, or (uint32)-1 with an exception
 * set (a key's __eq__ raised). Restarts if __eq__ changed the store meanwhile. */
#define ZC_ERR ((uint32_t)-1)

static inline uint32_t zc_lookup(zc_store *s, PyObject *key, Py_hash_t hash) {
restart:
    {
        size_t j = (size_t)hash & s->mask;
        for (;;) {
            uint32_t i = s->slots[j];
            zc_node *n;
            if (i == 0) return 0;
            n = zc_N(s, i);
            if (n->key == key) return i;
            if (n->hash == hash) {
                PyObject *k = n->key;
                uint64_t v = s->version;
                int eq;
                Py_INCREF(k);
                eq = PyObject_RichCompareBool(k, key, Py_EQ);
                Py_DECREF(k);
                if (eq < 0) return ZC_ERR;
                if (s->version != v) goto restart;
                if (eq) return i;
            }
            j = (j + 1) & s->mask;
        }
    }
}

static inline int zc_index_resize(zc_store *s, size_t cap) {
    uint32_t *old = s->slots;
    size_t oldcap = s->mask + 1, j;
    uint32_t *slots = (uint32_t *)PyMem_Calloc(cap, sizeof(uint32_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->slots = slots;
    s->mask = cap - 1;
    for (j = 0; j < oldcap; j++) {
        uint32_t i = old[j];
        if (i) {
            size_t k = (size_t)zc_N(s, i)->hash & s->mask;
            while (slots[k]) k = (k + 1) & s->mask;
            slots[k] = i;
        }
    }
    PyMem_Free(old);
    return 0;
}

/* Make room for one more entry (load factor <= 2/3). -1 on MemoryError. */
static inline int zc_index_reserve(zc_store *s) {
    size_t cap = s->mask + 1;
    if ((size_t)(s->used + 1) * 3 > cap * 2) {
        return zc_index_resize(s, cap * 2);
    }
    return 0;
}

/* Insert node i (known absent; zc_index_reserve done) into the index. */
static inline void zc_index_insert(zc_store *s, uint32_t i) {
    size_t j = (size_t)zc_N(s, i)->hash & s->mask;
    while (s->slots[j]) j = (j + 1) & s->mask;
    s->slots[j] = i;
    s->used++;
}

/* Remove node i from the index (backward-shift deletion). */
static inline void zc_index_remove(zc_store *s, uint32_t i) {
    size_t j = (size_t)zc_N(s, i)->hash & s->mask, k;
    while (s->slots[j] != i) j = (j + 1) & s->mask;
    /* shift later members of the cluster back into the hole when allowed */
    k = j;
    for (;;) {
        uint32_t m;
        size_t home;
        k = (k + 1) & s->mask;
        m = s->slots[k];
        if (m == 0) break;
        home = (size_t)zc_N(s, m)->hash & s->mask;
        /* m may move to j if its home is not in the cyclic range (j, k] */
        if ((j <= k) ? (home <= j || home > k) : (home <= j && home > k)) {
            s->slots[j] = m;
            j = k;
        }
    }
    s->slots[j] = 0;
    s->used--;
}

/* ---- whole-key operations ---- */

/* Allocate (but do not link) a node for (key, hash) with weight w, with room
 * reserved in the index and, if `heavy`, in the heavy list. Every allocation an
 * insertion needs happens here, so the caller can prepare, then change the value
 * mapping, then link (which cannot fail). Returns the index, or 0 with an
 * exception set (nothing changed). */
static inline uint32_t zc_prepare(zc_store *s, PyObject *key, Py_hash_t hash, const zc_num *w,
                           int heavy) {
    uint32_t i;
    zc_node *n;
    if (zc_index_reserve(s) < 0) return 0;
    i = zc_node_alloc(s);
    if (i == 0) return 0;
    if (zc_weight_set(s, i, w) < 0 || (heavy && zc_X_alloc(s, i) == NULL)) {
        PyObject *k, *o;
        zc_node_free(s, i, &k, &o);
        Py_XDECREF(o);
        return 0;
    }
    n = zc_N(s, i);
    Py_INCREF(key);
    n->key = key;
    n->hash = hash;
    return i;
}

/* Undo zc_prepare. References to drop are handed out as in zc_node_free. */
static inline void zc_unprepare(zc_store *s, uint32_t i, PyObject **key_out,
                                PyObject **w_out) {
    zc_node_free(s, i, key_out, w_out);
}

/* Link a prepared node at the most recently used end (and into the heavy list). */
static inline void zc_link(zc_store *s, uint32_t i, int heavy) {
    zc_N(s, i)->flags |= ZC_F_LIVE;
    zc_index_insert(s, i);
    zc_order_append(s, i);
    if (heavy) zc_heavy_add(s, i); /* cannot fail: side table allocated */
    s->version++;
}

/* Unlink live node i from index, order and heavy lists. If an eviction of it is
 * running, mark it cancelled and keep it allocated (the evictor frees it);
 * otherwise free it. References to drop are handed out as in zc_node_free
 * (both NULL when the node was retired instead). */
static inline void zc_remove(zc_store *s, uint32_t i, PyObject **key_out, PyObject **w_out) {
    zc_node *n = zc_N(s, i);
    zc_index_remove(s, i);
    zc_order_unlink(s, i);
    zc_heavy_discard(s, i);
    n->flags &= ~ZC_F_LIVE;
    s->version++;
    if (n->flags & ZC_F_EVICTING) {
        n->flags |= ZC_F_CANCELLED;
        *key_out = *w_out = NULL;
    } else {
        zc_node_free(s, i, key_out, w_out);
    }
}

/* Free every node and chunk described by (chunks, nchunks, fresh): decref keys
 * and OBJ weights. The caller has already detached them from the store. */
static inline void zc_chunks_release(zc_chunk *chunks, uint32_t nchunks, uint32_t fresh) {
    uint32_t i;
    for (i = 1; i < fresh; i++) {
        uint32_t off, c = zc_chunk_of(i, &off);
        zc_node *n = &chunks[c].nodes[off];
        zc_ext *e = chunks[c].ext;
        if (n->key != NULL) {
            if (e && (n->flags & ZC_F_WKIND) == ZC_W_OBJ) {
                Py_CLEAR(e[off].w.o);
            }
            Py_CLEAR(n->key);
        }
    }
    for (i = 0; i < nchunks; i++) {
        PyMem_Free(chunks[i].nodes);
        PyMem_Free(chunks[i].ext);
    }
    PyMem_Free(chunks);
}

/* Empty the store (for tp_clear). The store is valid and empty before any key is
 * released, since a key's __del__ may use the mapping again. Returns -1 (store
 * untouched) only if the new empty index cannot be allocated. */
static inline int zc_store_clear(zc_store *s) {
    zc_chunk *chunks = s->chunks;
    uint32_t nchunks = s->nchunks, fresh = s->fresh;
    uint32_t *slots = (uint32_t *)PyMem_Calloc(ZC_MIN_SLOTS, sizeof(uint32_t));
    uint64_t version = s->version + 1;
    if (slots == NULL) return -1;
    PyMem_Free(s->slots);
    memset(s, 0, sizeof(*s));
    s->fresh = 1;
    s->slots = slots;
    s->mask = ZC_MIN_SLOTS - 1;
    s->version = version;
    zc_chunks_release(chunks, nchunks, fresh);
    return 0;
}

/* Release everything (for dealloc); the store is unusable afterwards. */
static inline void zc_store_free(zc_store *s) {
    zc_chunk *chunks = s->chunks;
    uint32_t nchunks = s->nchunks, fresh = s->fresh;
    PyMem_Free(s->slots);
    memset(s, 0, sizeof(*s));
    zc_chunks_release(chunks, nchunks, fresh);
}

/* GC support: visit every key and OBJ weight the store holds. */
static inline int zc_store_traverse(const zc_store *s, visitproc visit, void *arg) {
    uint32_t i;
    for (i = 1; i < s->fresh; i++) {
        const zc_node *n = zc_N(s, i);
        if (n->key != NULL) {
            Py_VISIT(n->key);
            if ((n->flags & ZC_F_WKIND) == ZC_W_OBJ) {
                Py_VISIT(zc_X(s, i)->w.o);
            }
        }
    }
    return 0;
}

/* Bytes of C memory the store holds (for memory accounting). */
static inline size_t zc_store_nbytes(const zc_store *s) {
    size_t b = (s->mask + 1) * sizeof(uint32_t) + s->chunks_cap * sizeof(zc_chunk);
    uint32_t c;
    for (c = 0; c < s->nchunks; c++) {
        b += zc_chunk_len(c) * sizeof(zc_node);
        if (s->chunks[c].ext) b += zc_chunk_len(c) * sizeof(zc_ext);
    }
    return b;
}

#endif /* ZC_STORE_H */
