"""Differential test: zict_core.Buffer against zict 3.0.0's Buffer, step by step.

A hypothesis state machine applies the same operations to both, with slow
mappings and fast_to_slow callbacks that raise on the same cue schedule, and
compares everything observable after every step. (zict_core weighs a promoted
value once where zict weighs it twice: weight-call counts are not compared.)
"""

from __future__ import annotations

import os

import zict
from buffer_utils import assert_real_zict
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import zict_core

assert_real_zict(zict)

KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])
VALUES = st.integers(0, 9)
# Most steps run without faults; some fail the i-th write (or callback) of the step.
CUES = st.one_of(
    st.just(frozenset()),
    st.just(frozenset()),
    st.frozensets(st.integers(0, 2), min_size=1, max_size=2),
)
NS = st.one_of(st.integers(0, 14), st.sampled_from([2.5, 7.5, 30]))

WEIGHTS = {
    "unit": lambda k, v: 1,
    "value": lambda k, v: v,
    "half": lambda k, v: v / 2,
    "mixed": lambda k, v: v if v % 2 else v / 4,
}


class CueSlow(dict):
    """A slow mapping whose i-th write of the current step raises OSError."""

    def __init__(self, log):
        super().__init__()
        self.log = log
        self.cue = frozenset()
        self.calls = 0

    def arm(self, cue):
        self.cue = cue
        self.calls = 0

    def __setitem__(self, key, value):
        i = self.calls
        self.calls += 1
        if i in self.cue:
            self.log.append(("slow-fail", key, value))
            raise OSError(28, f"cue {i}")
        self.log.append(("slow-set", key, value))
        super().__setitem__(key, value)


class CueCallback:
    """A fast_to_slow callback whose i-th call of the current step raises."""

    def __init__(self, log):
        self.log = log
        self.cue = frozenset()
        self.calls = 0

    def arm(self, cue):
        self.cue = cue
        self.calls = 0

    def __call__(self, key, value):
        i = self.calls
        self.calls += 1
        if i in self.cue:
            self.log.append(("cb-fail", key, value))
            raise ValueError(f"callback cue {i}")
        self.log.append(("f2s", key, value))


class Side:
    def __init__(self, mod, weight, n):
        self.log = []
        self.slow = CueSlow(self.log)
        self.cb = CueCallback(self.log)
        kwargs = {} if weight is None else {"weight": weight}
        self.buf = mod.Buffer(
            {},
            self.slow,
            n,
            fast_to_slow_callbacks=[self.cb],
            slow_to_fast_callbacks=lambda k, v: self.log.append(("s2f", k, v)),
            **kwargs,
        )

    def run(self, op, slow_cue, cb_cue):
        self.slow.arm(slow_cue)
        self.cb.arm(cb_cue)
        try:
            return ("ok", op(self.buf))
        except (KeyError, OSError, ValueError) as e:
            return (
                "raised",
                type(e),
                str(e) if isinstance(e, (OSError, ValueError)) else None,
            )
        finally:
            self.slow.arm(frozenset())
            self.cb.arm(frozenset())


def observe(buf):
    fast = buf.fast
    tw = fast.total_weight
    return {
        "fast.d": list(fast.d.items()),
        "slow": list(buf.slow.items()),
        "order": list(fast.order),
        "heavy": list(fast.heavy),
        # zict's weights is a dict in insertion order, zict_core's a view in
        # LRU order: compare as a mapping (dask only looks keys up)
        "weights": {k: (w, type(w)) for k, w in fast.weights.items()},
        "total_weight": (tw, type(tw)),
        "n": (buf.n, type(buf.n)),
        "offset": (buf.offset, type(buf.offset)),
        "len": len(buf),
        "iter": list(buf),
    }


class BufferDiff(RuleBasedStateMachine):
    @initialize(weight=st.sampled_from([None, *WEIGHTS]), n=NS)
    def init(self, weight, n):
        w = None if weight is None else WEIGHTS[weight]
        self.core = Side(zict_core, w, n)
        self.ref = Side(zict, w, n)
        self.steps = []

    def both(self, name, op, slow_cue=frozenset(), cb_cue=frozenset()):
        r_core = self.core.run(op, slow_cue, cb_cue)
        r_ref = self.ref.run(op, slow_cue, cb_cue)
        self.steps.append(name)
        assert r_core == r_ref, (name, r_core, r_ref)
        if r_core[0] == "raised":
            event(f"{name.split()[0].split('(')[0]} raised {r_core[1].__name__}")
        return r_core

    @rule(key=KEYS, value=VALUES, cue=CUES, cb_cue=CUES)
    def set(self, key, value, cue, cb_cue):
        def op(b):
            b[key] = value

        self.both(f"set {key}={value} cue={set(cue)} cb={set(cb_cue)}", op, cue, cb_cue)

    @rule(key=KEYS, value=VALUES)
    def set_noevict(self, key, value):
        self.both(f"set_noevict {key}={value}", lambda b: b.set_noevict(key, value))

    @rule(key=KEYS, cue=CUES, cb_cue=CUES)
    def get(self, key, cue, cb_cue):
        self.both(
            f"get {key} cue={set(cue)} cb={set(cb_cue)}", lambda b: b[key], cue, cb_cue
        )

    @precondition(lambda self: len(self.ref.buf.slow) > 0)
    @rule(data=st.data(), cue=CUES)
    def get_from_slow(self, data, cue):
        key = data.draw(st.sampled_from(sorted(self.ref.buf.slow)))
        self.both(f"get(slow) {key} cue={set(cue)}", lambda b: b[key], cue)

    @rule(key=KEYS)
    def delete(self, key):
        def op(b):
            del b[key]

        self.both(f"del {key}", op)

    @rule(n=st.one_of(st.none(), st.integers(0, 12)), cue=CUES, cb_cue=CUES)
    def evict_until_below_target(self, n, cue, cb_cue):
        self.both(
            f"evict_until_below_target({n}) cue={set(cue)} cb={set(cb_cue)}",
            lambda b: b.evict_until_below_target(n),
            cue,
            cb_cue,
        )

    @rule(cue=CUES)
    def fast_evict(self, cue):
        self.both(f"fast.evict() cue={set(cue)}", lambda b: b.fast.evict(), cue)

    @rule(n=NS)
    def set_n(self, n):
        def op(b):
            b.n = n

        self.both(f"n={n}", op)

    @rule(offset=st.sampled_from([0, 1, 3, 0.5]))
    def set_offset(self, offset):
        def op(b):
            b.offset = offset

        self.both(f"offset={offset}", op)

    @rule(key=KEYS)
    def contains(self, key):
        self.both(f"{key} in", lambda b: key in b)

    @rule()
    def items(self):
        self.both(
            "items", lambda b: (list(b.items()), list(b.values()), list(b.keys()))
        )

    @rule(key=KEYS)
    def get_method(self, key):
        self.both(f"get({key})", lambda b: b.get(key, "missing"))

    @invariant()
    def same_state(self):
        if not hasattr(self, "core"):
            return
        a, b = observe(self.core.buf), observe(self.ref.buf)
        for field in a:
            assert a[field] == b[field], (field, a[field], b[field], self.steps[-3:])
        assert self.core.log == self.ref.log, (self.core.log, self.ref.log)
        # zict_core's own bookkeeping, which zict has no equivalent of
        assert self.core.buf._cancel_restore == {}
        assert self.core.buf.fast._cancel_evict == {}


BufferDiff.TestCase.settings = settings(
    deadline=None,
    max_examples=int(os.environ.get("ZICT_CORE_HYPOTHESIS_EXAMPLES", "300")),
    stateful_step_count=50,
)
TestBufferDiff = BufferDiff.TestCase
