"""Shared fixtures of zict_core's own tests."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis on a shared, noisy CI machine: no deadlines, a bounded number of
# examples. ZICT_CORE_HYPOTHESIS_EXAMPLES raises it for long local runs.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=int(os.environ.get("ZICT_CORE_HYPOTHESIS_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("ci")


@pytest.fixture
def is_locked():
    """is_locked(mapping): True if another thread cannot take ``mapping.lock``."""
    with ThreadPoolExecutor(1) as ex:

        def probe(m):
            got = m.lock.acquire(blocking=False)
            if got:
                m.lock.release()
            return not got

        yield lambda m: ex.submit(probe, m).result()


@pytest.fixture
def seed(request):
    """A random seed, printed so that a failing run can be replayed with
    ZICT_CORE_SEED=<seed>."""
    value = int(os.environ.get("ZICT_CORE_SEED", random.randrange(2**32)))
    print(f"\n[{request.node.name}] seed={value} (replay: ZICT_CORE_SEED={value})")
    return value
