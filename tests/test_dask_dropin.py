"""zict_core under dask.distributed: its own SpillBuffer built on zict_core and
compared with the same SpillBuffer on zict 3.0.0, a real LocalCluster whose
worker processes get zict_core through ZICT_CORE_AS_ZICT=1, and the dask CLI.

distributed is imported only in subprocesses: install_as_zict() must run before
anything imports zict, and this test process imports the real zict (the other
tests' oracle).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 10), reason="distributed needs Python >= 3.10"
)

HERE = Path(__file__).resolve().parent
ENV = "ZICT_CORE_AS_ZICT"
SCENARIOS = [
    "spill_unspill",
    "weakref_cache",
    "disk_full",
    "max_spill",
    "pickle_error_other_key",
    "pickle_error_own_key",
    "threads",
]
NO_ORACLE = {"threads"}  # zict 3.0.0 can lose keys under threads


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def spill_runs(tmp_path_factory) -> dict[str, dict]:
    """dask_spill_scenarios.py on zict_core and on zict 3.0.0, side by side."""
    out = tmp_path_factory.mktemp("spill")
    procs = {
        impl: subprocess.Popen(
            [
                sys.executable,
                str(HERE / "dask_spill_scenarios.py"),
                impl,
                str(out / impl),
            ],
            env=clean_env(),
            cwd=out,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for impl in ("zict_core", "zict")
    }
    results = {}
    for impl, proc in procs.items():
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"{impl} run timed out:\n{err[-3000:]}")
        assert proc.returncode == 0, f"{impl} run failed:\n{err[-3000:]}"
        results[impl] = json.loads((out / impl).read_text())
    return results


@pytest.mark.timeout(180)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_spillbuffer_on_zict_core(spill_runs, scenario):
    """distributed's SpillBuffer on zict_core keeps distributed's guarantees
    (asserted inside the scenario) and behaves as it does on zict 3.0.0."""
    core = spill_runs["zict_core"][scenario]
    assert core["error"] is None, core["error"]
    assert core["trace"] or scenario in NO_ORACLE
    if scenario in NO_ORACLE:
        return
    oracle = spill_runs["zict"][scenario]
    assert oracle["error"] is None, "the scenario fails on zict 3.0.0:\n" + str(
        oracle["error"]
    )
    for i, (got, expected) in enumerate(zip(core["trace"], oracle["trace"])):
        assert got == expected, f"step {i} differs from zict 3.0.0"
    assert len(core["trace"]) == len(oracle["trace"])


@pytest.mark.timeout(60)
def test_spillbuffer_alive_at_interpreter_exit_is_quiet(tmp_path):
    """A SpillBuffer still holding a value when its process exits (a value whose
    class is defined in __main__ keeps it in a reference cycle until module
    teardown) must exit as quietly as on zict 3.0.0."""
    code = textwrap.dedent(
        """
        import sys, tempfile
        if sys.argv[1] == "zict_core":
            import zict_core
            zict_core.install_as_zict()
        from distributed.spill import SpillBuffer

        class Value:
            def method(self):
                pass

        buf = SpillBuffer(tempfile.mkdtemp(), target=300)
        buf["x"] = Value()
        """
    )
    for impl in ("zict", "zict_core"):
        proc = subprocess.run(
            [sys.executable, "-c", code, impl],
            env=clean_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", f"{impl} at exit printed:\n{proc.stderr}"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_localcluster_workers_spill_on_zict_core(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(HERE / "dask_cluster_scenario.py")],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    # the result is right, and every part came back intact from the workers
    assert out["total"] == out["expected_total"]
    assert out["gathered_ok"]
    # the client keeps its own zict; the spawned workers got zict_core
    assert out["client_zict"] == "zict"
    for phase in ("after_persist", "after_compute"):
        workers = out[phase]
        assert len(workers) == 2, workers
        for w in workers.values():
            assert w["zict"] == "zict_core" and w["zict_is_zict_core"], w
            assert w["hook_loaded"], w
            assert w["is_zict_core_buffer"], w
            assert w["data_type"][:2] == [
                "distributed.spill.SpillBuffer",
                "zict_core._buffer.Buffer",
            ], w
            assert w["spill_failures"] == 0, w
            assert w["fast_weight"] <= w["target"], w
    persisted = out["after_persist"].values()
    # the data did not fit: every worker spilled, and fast + slow hold it all
    assert all(w["slow"] > 0 and w["spills"] >= w["slow"] for w in persisted)
    assert sum(w["fast"] + w["slow"] for w in persisted) == out["n_keys"]
    # computing on it read spilled parts back
    assert sum(w["unspills"] for w in out["after_compute"].values()) > 0


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_dask_cli_scheduler_and_worker(tmp_path):
    """`ZICT_CORE_AS_ZICT=1 dask scheduler` and `ZICT_CORE_AS_ZICT=1 dask worker`
    as README shows: the worker processes the nanny spawns, and the scheduler,
    run on zict_core."""
    sched_file = tmp_path / "scheduler.json"
    env = clean_env(**{ENV: "1"})
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
         "127.0.0.1", "--port", "0", "--scheduler-file", str(sched_file), *common],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert scheduler.poll() is None, scheduler.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
             str(sched_file), "--nworkers", "1", "--nthreads", "1",
             "--memory-limit", "1GiB", "--host", "127.0.0.1", *common],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        client_code = textwrap.dedent(
            f"""
            import json, sys
            from distributed import Client

            def probe():
                import zict
                return {{"zict": zict.__name__}}

            def worker_probe(dask_worker):
                import zict_core
                data = dask_worker.data
                return dict(probe(), buffer=isinstance(data, zict_core.Buffer))

            with Client(scheduler_file={str(sched_file)!r}, timeout=60) as c:
                c.wait_for_workers(1, timeout=60)
                print(json.dumps({{
                    "workers": list(c.run(worker_probe).values()),
                    "scheduler": c.run_on_scheduler(probe),
                    "result": c.submit(sum, range(10)).result(),
                }}))
            """
        )
        proc = subprocess.run(
            [sys.executable, "-c", client_code],
            env=clean_env(),  # the client itself without the variable
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["workers"] == [{"zict": "zict_core", "buffer": True}]
        assert out["scheduler"] == {"zict": "zict_core"}
        assert out["result"] == 45
    finally:
        for p in (worker, scheduler):
            if p is not None and p.poll() is None:
                p.terminate()
        for p in (worker, scheduler):
            if p is not None:
                try:
                    p.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
