"""Differential test: zict_core.LRU against zict 3.0.0's LRU.

A hypothesis state machine applies the same operations to both and, after every
step, compares everything observable: results and exceptions, d's content and
order, order, heavy, weights (values and types), total_weight (value and type),
n, offset, str(), and the logs of the on_evict/on_cancel_evict callbacks.

Not generated here, because zict_core deliberately differs (see test_lru.py):
weight functions that raise or return invalid numbers (zict_core leaves the LRU
unchanged, zict has already dropped the old value), re-entrant inserts from an
on_evict callback that start a nested eviction loop (zict spins forever), and the
in-flight eviction accounting of concurrent threads.
"""

from __future__ import annotations

import math

import hypothesis.strategies as st
import zict
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from lru_utils import assert_real_zict, check_consistent

import zict_core

# The oracle must be the real zict, not zict_core installed under its name.
assert_real_zict(zict)
assert zict.LRU is not zict_core.LRU

KEYS = "abcdef"
keys = st.sampled_from(KEYS)
values = st.one_of(
    st.integers(min_value=0, max_value=7),
    st.sampled_from([0.5, 1.25, 2.75, 0.1, 3.3]),
)
# n >= 0: with a negative n, zict's __setitem__ failure path (weights.get(key, 0)
# > n) also fires when the new key was already evicted and retries the rest of
# the LRU once more; zict_core only does it while the new key is still there.
ns = st.one_of(
    st.integers(min_value=0, max_value=12),
    st.sampled_from([2.5, 4.75, 0.0, math.inf]),
)
offsets = st.one_of(
    st.integers(min_value=-4, max_value=6),
    st.sampled_from([0.5, -1.5, 2.25]),
)


class Fail(Exception):
    """Raised by an on_evict callback on cue."""


def weight_function(kind):
    """Weight functions that always return a valid number (see module docstring)."""
    if kind == "unit":
        return None  # each implementation's own default
    if kind == "value":
        return lambda k, v: v  # int or float, as the value
    if kind == "int_value":
        return lambda k, v: int(v) + 1
    if kind == "key":
        return lambda k, v: KEYS.index(k) % 3
    raise AssertionError(kind)


class Side:
    """One implementation with its callbacks and logs."""

    def __init__(self, cls, machine, n, d, weight, single_callback):
        self.log = []
        self.fired = set()  # one-shot actions already run on this side

        def log_before(k, v):
            self.log.append(("evict", k, v))

        def act(k, v):
            # Failures and one-shot actions are armed by the machine and fire
            # identically on both sides.
            action = machine.actions.get(k)
            if action is not None and k not in self.fired:
                self.fired.add(k)
                self.do(action, k)
            if k in machine.failing:
                raise Fail(k)

        def log_after(k, v):
            self.log.append(("evicted", k, v))

        def cancel(k, v):
            self.log.append(("cancel", k, v))

        kwargs = {}
        if weight is not None:
            kwargs["weight"] = weight
        on_evict = [log_before, act, log_after]
        if single_callback:
            on_evict = log_before
            self.extra = [act, log_after]
        self.lru = cls(n, d, on_evict=on_evict, on_cancel_evict=cancel, **kwargs)
        if single_callback:
            self.lru.on_evict.extend(self.extra)

    def do(self, action, k):
        lru = self.lru
        if action == "del_self":
            del lru[k]
        elif action == "replace_self":
            lru.set_noevict(k, 1)
        elif action == "read_other":
            for other in KEYS:
                if other != k and other in lru:
                    self.log.append(("read", other, lru[other]))
                    break
        elif action == "set_other_noevict":
            other = KEYS[(KEYS.index(k) + 1) % len(KEYS)]
            lru.set_noevict(other, 2)
        else:
            raise AssertionError(action)

    def call(self, name, *args):
        try:
            result = getattr(self.lru, name)(*args)
        except Exception as e:  # noqa: BLE001 - compared between the two sides
            return (
                "raised",
                type(e),
                e.args if isinstance(e, (KeyError, Fail)) else None,
            )
        return ("ok", normalize(result))

    def state(self):
        lru = self.lru
        return {
            "d": list(lru.d.items()),
            "iter": list(lru),
            "keys": list(lru.keys()),
            "len": len(lru),
            "order": list(lru.order),
            "heavy": list(lru.heavy),
            # zict's weights dict is in insertion order, zict_core's view in
            # LRU order: compare as a mapping, with the types of the values
            "weights": {k: (w, type(w)) for k, w in lru.weights.items()},
            "total_weight": (lru.total_weight, type(lru.total_weight)),
            "n": (lru.n, type(lru.n)),
            "offset": (lru.offset, type(lru.offset)),
            "closed": lru.closed,
            "str": str(lru),
            "log": list(self.log),
        }


def normalize(result):
    """Results with the types of numbers made visible."""
    if isinstance(result, tuple):
        return tuple(normalize(x) for x in result)
    if isinstance(result, dict):
        return [(k, normalize(v)) for k, v in result.items()]
    if isinstance(result, (int, float)):
        return (result, type(result))
    return result


class LRUDifferential(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.failing = set()
        self.actions = {}

    @initialize(
        n=ns,
        kind=st.sampled_from(["unit", "value", "int_value", "key"]),
        initial=st.dictionaries(keys, values, max_size=4),
        single_callback=st.booleans(),
    )
    def setup(self, n, kind, initial, single_callback):
        weight = weight_function(kind)
        self.ours = Side(zict_core.LRU, self, n, dict(initial), weight, single_callback)
        self.theirs = Side(zict.LRU, self, n, dict(initial), weight, single_callback)

    def both(self, name, *args):
        ours = self.ours.call(name, *args)
        theirs = self.theirs.call(name, *args)
        assert ours == theirs, (name, args)
        return ours

    # ------------------------------------------------------------ mapping

    @rule(k=keys, v=values)
    def set(self, k, v):
        self.both("__setitem__", k, v)

    @rule(k=keys)
    def get(self, k):
        self.both("__getitem__", k)

    @rule(k=keys)
    def delete(self, k):
        self.both("__delitem__", k)

    @rule(k=keys)
    def contains(self, k):
        self.both("__contains__", k)

    @rule(k=keys, v=values)
    def set_noevict(self, k, v):
        self.both("set_noevict", k, v)

    @rule(items=st.dictionaries(keys, values, max_size=3))
    def update(self, items):
        self.both("update", items)

    @rule(k=keys)
    def pop(self, k):
        self.both("pop", k)

    @rule(k=keys)
    def discard(self, k):
        self.both("discard", k)

    @rule(k=keys, v=values)
    def setdefault(self, k, v):
        self.both("setdefault", k, v)

    @rule(ks=st.lists(keys, max_size=4))
    def get_all_or_nothing(self, ks):
        self.both("get_all_or_nothing", ks)

    # ------------------------------------------------------------ eviction

    @rule()
    def evict(self):
        self.both("evict")

    @rule(k=keys)
    def evict_key(self, k):
        self.both("evict", k)

    @rule(n=st.one_of(st.none(), ns))
    def evict_until_below_target(self, n):
        self.both("evict_until_below_target", n)

    @rule(n=ns)
    def set_n(self, n):
        self.ours.lru.n = self.theirs.lru.n = n

    @rule(offset=offsets)
    def set_offset(self, offset):
        self.ours.lru.offset = self.theirs.lru.offset = offset

    @rule(kind=st.sampled_from(["value", "int_value", "key"]))
    def set_weight(self, kind):
        self.ours.lru.weight = self.theirs.lru.weight = weight_function(kind)

    @rule(closed=st.booleans())
    def set_closed(self, closed):
        self.ours.lru.closed = self.theirs.lru.closed = closed

    # ------------------------------------------------------------ callbacks

    @rule(k=keys)
    def fail_on(self, k):
        self.failing.add(k)

    @rule(k=keys)
    def stop_failing(self, k):
        self.failing.discard(k)

    @rule(
        k=keys,
        action=st.sampled_from(
            ["del_self", "replace_self", "read_other", "set_other_noevict"]
        ),
    )
    def arm_action(self, k, action):
        self.actions[k] = action
        self.ours.fired.discard(k)
        self.theirs.fired.discard(k)

    # ------------------------------------------------------------ compare

    @invariant()
    def same_state(self):
        if not hasattr(self, "ours"):
            return
        assert self.ours.state() == self.theirs.state()
        check_consistent(self.ours.lru)


LRUDifferential.TestCase.settings = settings(
    deadline=None,
    max_examples=500,
    stateful_step_count=50,
)
TestLRUDifferential = LRUDifferential.TestCase
