"""zict_core.Zip: a zip archive as a mapping."""

from __future__ import annotations

import array
import errno
import io
import zipfile

import pytest
import zict

from zict_core import Zip
from zict_core.common import ZictBase

try:
    from tests.storage_utils import (
        assert_real_zict,
        check_bad_keys,
        check_bad_values,
        check_mapping,
        fd_leaks,
    )
except ImportError:
    from storage_utils import (  # type: ignore[no-redef]
        assert_real_zict,
        check_bad_keys,
        check_bad_values,
        check_mapping,
        fd_leaks,
    )

__all__ = ["fd_leaks"]


@pytest.fixture
def fn(tmp_path, fd_leaks):
    return tmp_path / "archive.zip"


def test_simple(fn):
    z = Zip(fn)
    assert isinstance(z, ZictBase)
    assert not z
    z["x"] = b"123"
    assert list(z) == ["x"]
    assert z["x"] == b"123"
    assert type(z["x"]) is bytes
    z.flush()
    with zipfile.ZipFile(fn) as zf:
        assert zf.read("x") == b"123"
    z["y"] = b"456"  # reopened for appending after flush
    z.close()
    with zipfile.ZipFile(fn) as zf:
        assert zf.namelist() == ["x", "y"]


def test_mapping(fn):
    with Zip(fn) as z:
        check_mapping(z, can_delete=False, can_overwrite=False, empty_key=False)
        assert "Zip" in str(z)


def test_no_overwrite_no_delete(fn):
    with Zip(fn) as z:
        z["x"] = b"123"
        with pytest.raises(NotImplementedError, match="overwrite 'x'"):
            z["x"] = b"456"
        with pytest.raises(NotImplementedError):
            z.update({"x": b"456"})
        with pytest.raises(NotImplementedError):
            del z["x"]
        assert dict(z) == {"x": b"123"}
    with zipfile.ZipFile(fn) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["x"]


def test_bad_types(fn):
    with Zip(fn) as z:
        check_bad_keys(z, can_delete=False)
        check_bad_values(z)
        for bad in ("", "a\0b"):
            with pytest.raises(ValueError, match="non-empty"):
                z[bad] = b"1"
        assert len(z) == 0


@pytest.mark.parametrize(
    "value",
    [bytearray(b"123"), memoryview(b"123"), memoryview(b"abcdef")[::2]],
    ids=["bytearray", "memoryview", "strided"],
)
def test_bytes_like_values(fn, value):
    with Zip(fn) as z:
        z["x"] = value
    with Zip(fn) as z:
        assert z["x"] == bytes(value)


def test_memoryview_of_wider_items(fn):
    """len(memoryview) counts items, not bytes: a zip member must hold all bytes."""
    a = array.array("d", [1.0, 2.0, 3.0])
    with Zip(fn) as z:
        z["a"] = memoryview(a)
    with zipfile.ZipFile(fn) as zf:
        assert zf.read("a") == a.tobytes()
        assert zf.getinfo("a").file_size == 24


def test_closed(fn):
    z = Zip(fn)
    z["x"] = b"123"
    z.close()
    z.close()  # idempotent
    with zipfile.ZipFile(fn) as zf:
        assert zf.read("x") == b"123"
    for action in (
        lambda: z.__setitem__("y", b"1"),
        lambda: z["x"],
        lambda: "x" in z,
        lambda: len(z),
        lambda: list(z),
    ):
        with pytest.raises(OSError, match="closed") as info:
            action()
        assert info.value.errno == errno.EBADF
        assert str(fn) in str(info.value)


def test_mode_r(fn):
    with Zip(fn) as z:
        z["x"] = b"1"
    r = Zip(fn, mode="r")
    assert dict(r) == {"x": b"1"}
    with pytest.raises(io.UnsupportedOperation, match="mode='r'"):
        r["y"] = b"2"
    r.close()
    with pytest.raises(ValueError, match="mode"):
        Zip(fn, mode="q")


def test_mode_w_survives_flush(fn):
    """zict 3.0.0 reopens in "w" after flush() and truncates the archive."""
    with Zip(fn, "a") as z:
        z["old"] = b"0"
    z = Zip(fn, "w")
    z["a"] = b"1"
    z.flush()
    z["b"] = b"2"
    z.flush()
    assert dict(z) == {"a": b"1", "b": b"2"}
    z.close()


def test_interop_with_zict(tmp_path, fd_leaks):
    assert_real_zict(zict)
    with zict.Zip(str(tmp_path / "theirs.zip")) as theirs:
        theirs["a"] = b"1"
        theirs["b/c"] = b"2"
    with Zip(tmp_path / "theirs.zip") as ours:
        assert dict(ours) == {"a": b"1", "b/c": b"2"}
        ours["d"] = b"3"
    with zict.Zip(str(tmp_path / "theirs.zip")) as theirs:
        assert dict(theirs) == {"a": b"1", "b/c": b"2", "d": b"3"}


def test_differential_simple_ops(tmp_path, fd_leaks):
    ours, theirs = Zip(tmp_path / "o.zip"), zict.Zip(str(tmp_path / "t.zip"))
    for z in (ours, theirs):
        z["k1"] = b"v1"
        z.update({"k2": b"v2"})
    assert list(ours.items()) == list(theirs.items())
    assert len(ours) == len(theirs)
    for z in (ours, theirs):
        with pytest.raises(KeyError):
            z["missing"]
        with pytest.raises(NotImplementedError):
            z["k1"] = b"x"
        z.close()
