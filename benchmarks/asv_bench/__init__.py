"""The asv suite of zict_core (configured by asv.conf.json at the repository root).

    asv machine --yes
    asv run --python=same --quick                # every benchmark once (smoke run)
    ZICT_CORE_ASV_MAX_KEYS=10000 asv run --python=same --quick   # what CI runs
    asv run --python=same                        # real timings of the installed package
    asv publish && asv preview                   # browse the results

It lives in its own package, not directly in benchmarks/: asv imports every module
under its benchmark directory, and benchmarks/ also holds scripts (compare.py,
file_write_cost.py, dask_spill.py) with optional imports that are not benchmarks.

Every in-memory benchmark is parametrised over the number of keys (100 ...
1,000,000, capped by ZICT_CORE_ASV_MAX_KEYS) and the implementation
(``zict_core`` or ``zict`` 3.0.0, in the same process). A timed call does a batch
of 1,000 operations (see ``_common.BATCH``), so asv's microseconds per call read
as nanoseconds per operation.
"""
