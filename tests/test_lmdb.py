"""zict_core.LMDB on the real lmdb package."""

from __future__ import annotations

import errno
import os
import pathlib
import subprocess
import sys

import pytest
import zict

from zict_core import LMDB
from zict_core.common import ZictBase

try:
    from tests.storage_utils import (
        assert_real_zict,
        check_bad_keys,
        check_bad_values,
        check_mapping,
        fd_leaks,
        open_fds,
    )
except ImportError:
    from storage_utils import (  # type: ignore[no-redef]
        assert_real_zict,
        check_bad_keys,
        check_bad_values,
        check_mapping,
        fd_leaks,
        open_fds,
    )

__all__ = ["fd_leaks"]

lmdb = pytest.importorskip("lmdb")
MiB = 2**20


def test_uses_real_lmdb(tmp_path, fd_leaks):
    with LMDB(tmp_path) as z:
        assert isinstance(z.db, lmdb.Environment)
        assert isinstance(z, ZictBase)
        z["x"] = b"1"
        assert "LMDB" in str(z)
    assert (tmp_path / "data.mdb").exists()


@pytest.mark.parametrize("dirtype", [str, pathlib.Path])
def test_mapping(tmp_path, fd_leaks, dirtype):
    with LMDB(dirtype(tmp_path)) as z:
        check_mapping(z, empty_key=False)


def test_bad_types(tmp_path, fd_leaks):
    with LMDB(tmp_path) as z:
        z["keep"] = b"1"
        check_bad_keys(z)
        check_bad_values(z)


def test_bytes_like_values(tmp_path, fd_leaks):
    with LMDB(tmp_path) as z:
        z["a"] = bytearray(b"12")
        z["b"] = memoryview(b"34")
        z["c"] = memoryview(b"abcdef")[::2]
        assert dict(z) == {"a": b"12", "b": b"34", "c": b"ace"}
        assert all(type(v) is bytes for v in z.values())


def test_key_size_limits(tmp_path, fd_leaks):
    with LMDB(tmp_path) as z:
        limit = z.db.max_key_size()
        z["k" * limit] = b"longest"
        assert z["k" * limit] == b"longest"
        for bad in ("", "k" * (limit + 1), "é" * (limit // 2 + 1)):
            with pytest.raises(ValueError, match=f"1 to {limit} bytes"):
                z[bad] = b"1"
            assert bad not in z
            with pytest.raises(KeyError):
                z[bad]
            with pytest.raises(KeyError):
                del z[bad]
        with pytest.raises(UnicodeEncodeError):
            z["\ud800"] = b"1"
        assert "\ud800" not in z
        assert list(z) == ["k" * limit]


def test_update_is_one_transaction(tmp_path, fd_leaks):
    with LMDB(tmp_path) as z:
        z["keep"] = b"0"
        with pytest.raises(TypeError, match="int"):
            z.update([("a", b"1"), ("b", 2)])
        with pytest.raises(TypeError, match="tuple"):
            z.update([("a", b"1"), ((1,), b"2")])
        assert dict(z) == {"keep": b"0"}
        z.update({"a": b"1"}, b=b"2")
        assert dict(z) == {"a": b"1", "b": b"2", "keep": b"0"}


def test_persistence(tmp_path, fd_leaks):
    with LMDB(tmp_path) as z:
        z["abc"] = b"123"
        z.flush()
    with LMDB(tmp_path) as z:
        assert dict(z) == {"abc": b"123"}


def test_closed(tmp_path, fd_leaks):
    z = LMDB(tmp_path)
    z["x"] = b"1"
    z.close()
    z.close()
    assert "closed" in str(z)
    for action in (
        lambda: z["x"],
        lambda: z.__setitem__("x", b"2"),
        lambda: z.__delitem__("x"),
        lambda: "x" in z,
        lambda: len(z),
        lambda: list(z),
        lambda: list(z.items()),
        lambda: z.update(y=b"1"),
        z.flush,
    ):
        with pytest.raises(OSError, match="is closed") as info:
            action()
        assert info.value.errno == errno.EBADF


def test_map_size(tmp_path, fd_leaks):
    z = LMDB(tmp_path, map_size=MiB)
    z["x"] = b"x" * (MiB // 2)
    with pytest.raises(lmdb.MapFullError):
        z["y"] = b"x" * MiB
    assert dict(z) == {"x": b"x" * (MiB // 2)}
    z.close()


def test_no_fd_leaks(tmp_path):
    before = open_fds()
    for _ in range(5):
        z = LMDB(tmp_path)
        z["x"] = b"1"
        list(z.items())
        del z  # __del__ closes
    with LMDB(tmp_path):
        pass
    z = LMDB(tmp_path)
    z.close()
    assert open_fds() == before


def test_abandoned_iterators(tmp_path, fd_leaks):
    with LMDB(tmp_path) as z:
        z.update({f"k{i}": b"v" for i in range(10)})
        for _ in range(200):  # would exhaust LMDB's reader slots if leaked
            it = iter(z.items())
            next(it)
            del it
        assert len(z) == 10


def test_iterate_while_writing(tmp_path, fd_leaks):
    with LMDB(tmp_path) as z:
        z.update(a=b"1", b=b"2")
        for key in z:
            z[key + "x"] = b"3"
        assert sorted(z) == ["a", "ax", "b", "bx"]


def test_missing_lmdb_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['lmdb'] = None\n"
        "from zict_core import LMDB\n"
        "try:\n"
        f"    LMDB({str(tmp_path)!r})\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    assert "zict-core[lmdb]" in out


def test_differential_against_zict(tmp_path, fd_leaks):
    assert_real_zict(zict)
    ours, theirs = LMDB(tmp_path / "o"), zict.LMDB(tmp_path / "t")
    for z in (ours, theirs):
        z["b"] = b"2"
        z["a"] = b"1"
        z.update({"c": b"3", "a": b"0"})
        del z["b"]
        with pytest.raises(KeyError):
            del z["b"]
        with pytest.raises(KeyError):
            z["b"]
    assert list(ours.items()) == list(theirs.items())  # LMDB sorts its keys
    assert list(ours.values()) == list(theirs.values())
    assert len(ours) == len(theirs)
    assert ("a", b"0") in ours.items() and ("a", b"0") in theirs.items()
    ours.close()
    theirs.close()


def test_interop_with_zict(tmp_path, fd_leaks):
    with zict.LMDB(tmp_path) as theirs:
        theirs["é"] = b"1"
    with LMDB(tmp_path) as ours:
        assert dict(ours) == {"é": b"1"}
        ours["x"] = b"2"
    with zict.LMDB(tmp_path) as theirs:
        assert dict(theirs) == {"x": b"2", "é": b"1"}
