"""A mapping whose values are files in a directory (mirrors ``zict.file``)."""

from __future__ import annotations

import errno
import io
import mmap
import os
import pathlib
import re
from collections.abc import Iterator, Sequence
from typing import Any, Union
from urllib.parse import quote, unquote

from zict_core.common import ZictBase

#: What ``File.__setitem__`` accepts: one bytes-like object, or a list/tuple of
#: them written one after the other.
BytesLike = Union[bytes, bytearray, memoryview]
FileValue = Union[BytesLike, "list[BytesLike]", "tuple[BytesLike, ...]"]

#: Every temporary file starts with this. ``quote`` always escapes ``!``, so no
#: name ``_safe_key`` returns can start with it, and reopening a directory can
#: tell leftovers of an interrupted write from values.
TEMP_PREFIX = "!zict_core-tmp."

# A name exactly as the default _safe_key writes it: percent-quoted key, "#N".
_KEY_FILE = re.compile(r"((?:[A-Za-z0-9_.~-]|%[0-9A-Fa-f]{2})*)#([0-9]+)")

_MODES = ("a", "w", "r")


def _quote(key: str) -> str:
    # surrogatepass: every str is a valid key, including lone surrogates
    # (zict raises UnicodeEncodeError on those; the names of all other keys are
    # the same as zict's).
    return quote(key, safe="", errors="surrogatepass")


def _unquote(name: str) -> str:
    try:
        return unquote(name, errors="surrogatepass")
    except UnicodeDecodeError:  # a name zict_core never wrote: decode as zict does
        return unquote(name)


def _chunks(value: object) -> Sequence[Any]:
    """Check *value* before anything touches the disk; return its pieces.

    A non-contiguous buffer (``memoryview(b)[::2]``) is copied into bytes: files
    can only be written from contiguous memory.
    """
    if type(value) is bytes or type(value) is bytearray:  # the common case
        return (value,)
    if isinstance(value, (list, tuple)):
        pieces: Sequence[Any] = value
    else:
        pieces = (value,)
    copied: list[Any] | None = None
    for i, piece in enumerate(pieces):
        if isinstance(piece, (bytes, bytearray)):
            continue
        try:
            view = memoryview(piece)
        except TypeError:
            what = type(value).__name__
            if piece is not value:
                what = f"a {what} containing {type(piece).__name__}"
            raise TypeError(
                "File values must be bytes-like objects (bytes, bytearray, "
                f"memoryview, ...) or a list/tuple of them, not {what}"
            ) from None
        if not view.c_contiguous:
            if copied is None:
                copied = list(pieces)
            copied[i] = view.tobytes()
    return pieces if copied is None else copied


_O_NEW_FILE = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)  # Windows: no newline translation
)
try:
    _IOV_MAX = os.sysconf("SC_IOV_MAX")
except (AttributeError, OSError, ValueError):
    _IOV_MAX = 16
_writev = getattr(os, "writev", None)


def _write_piece(fd: int, piece: Any) -> None:
    written = os.write(fd, piece)
    if isinstance(piece, (bytes, bytearray)):
        size = len(piece)
    else:
        size = memoryview(piece).nbytes
    if written < size:  # short write (signals, pipes, huge values): go on
        view = memoryview(piece).cast("B")
        while written < size:
            written += os.write(fd, view[written:])


def _write_all(fd: int, pieces: Sequence[Any]) -> None:
    """Write every piece, in order, coping with short writes."""
    if _writev is None or len(pieces) < 2:
        for piece in pieces:
            _write_piece(fd, piece)
        return
    for start in range(0, len(pieces), _IOV_MAX):
        batch = pieces[start : start + _IOV_MAX]
        written = _writev(fd, batch)
        for piece in batch:
            size = memoryview(piece).nbytes
            if written >= size:
                written -= size
                continue
            # short write: finish this piece, then write the rest one by one
            _write_piece(fd, memoryview(piece).cast("B")[written:])
            written = 0


def _name_max(directory: str) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # Windows, exotic file systems
        return 255


class File(ZictBase[str, bytes]):
    """Mutable mapping whose values are the files of a directory.

    Keys are strings; values are bytes-like objects (``bytes``, ``bytearray``,
    ``memoryview``, a numpy array's ``.data``, ...) or a list or tuple of them,
    written one after the other without first joining them in memory. Reading a
    key returns a ``bytearray`` (a writable ``memoryview`` of a private memory map
    with ``memmap=True``).

    A value is stored as one file holding exactly its bytes, named after the
    percent-quoted key plus a suffix ``#N`` that changes at every write
    (``x#0``, then ``x#1``...), the same layout as zict's ``File``: each can open
    the other's directories. Since the key is quoted, no key (``/``, ``..``,
    ``#``, the empty string, ...) can name a file outside the directory.

    Writes are crash safe: a value is written under a temporary name and renamed
    into place when complete, so a process killed mid-write never leaves a
    partial value that the next ``File`` on the directory would load; until then
    the previous value of the key stays readable. Leftover temporary files are
    removed when the directory is opened again.

    The keys live in memory (``filenames``): don't change the directory behind a
    ``File``'s back, e.g. from another process.

    Parameters
    ----------
    directory: str or pathlib.Path
        Created if it does not exist. An existing directory is adopted: its files
        become the mapping's items.
    memmap: bool, optional
        Read values with ``mmap`` instead of copying them into memory. The
        mapping is private (copy-on-write): writing to the returned buffer never
        changes the stored value.
    mode: {"a", "w", "r"}, optional
        ``"a"`` (default) adopts the directory's files; ``"w"`` deletes every
        file in the directory (as ``File(directory).clear()`` would;
        subdirectories stay) and starts empty; ``"r"`` adopts them read-only:
        writes and deletes raise :class:`io.UnsupportedOperation`, and leftovers
        of interrupted writes are left alone. zict 2.x's positional
        ``File(directory, mode, memmap)`` call is understood too.
    fsync: bool, optional
        Make every completed write durable: the file and the directory are
        flushed to stable storage (``os.fsync``) before ``__setitem__`` returns.
        Off by default (as in zict), since spilled data rarely needs to outlive a
        power cut and fsync costs milliseconds per write.

    Notes
    -----
    Thread safety: the lock covers only the bookkeeping (``filenames``, opening,
    renaming and deleting files), never the reading or writing of a file's
    bytes. When two threads write the same key at once, the write that completes
    last wins. Other processes must not use the directory at the same time.

    Subclasses may override :meth:`_safe_key` to accept other key types, e.g.
    ``return super()._safe_key(str(key))``.

    Examples
    --------
    >>> z = File("mydir")
    >>> z["x"] = b"123"
    >>> z["x"]
    bytearray(b'123')
    >>> z["y"] = [b"123", b"4567"]  # written one piece after the other
    >>> z["y"]
    bytearray(b'1234567')
    >>> z.filenames
    {'x': 'x#0', 'y': 'y#1'}
    >>> z["x"] = b"abc"  # a new file, renamed into place once complete
    >>> z.filenames
    {'y': 'y#1', 'x': 'x#2'}
    >>> import os
    >>> sorted(os.listdir("mydir"))
    ['x#2', 'y#1']
    >>> File("mydir")["x"]  # an existing directory is adopted
    bytearray(b'abc')
    """

    #: The directory holding the files (as a str).
    directory: str
    #: Whether values are read through a memory map.
    memmap: bool
    #: ``"a"``, ``"w"`` or ``"r"``, as opened.
    mode: str
    #: Whether each write is flushed to stable storage before it returns.
    fsync: bool
    #: key -> name of the file holding its value, relative to ``directory``
    filenames: dict[str, str]
    _inc: int

    def __init__(
        self,
        directory: str | pathlib.Path,
        memmap: bool = False,
        mode: str | None = None,
        *,
        fsync: bool = False,
    ):
        super().__init__()
        if isinstance(memmap, str):
            # zict 2.x order: File(directory, mode="a", memmap=False)
            if mode is not None and not isinstance(mode, bool):
                raise TypeError("File() got two values for mode")
            memmap, mode = bool(mode), memmap
        if mode is None:
            mode = "a"
        if mode not in _MODES:
            raise ValueError(f"File mode must be 'a', 'w' or 'r', not {mode!r}")
        self.directory = os.fspath(directory)
        if isinstance(self.directory, bytes):
            raise TypeError("File directory must be a str or a path, not bytes")
        self.memmap = bool(memmap)
        self.mode = mode
        self.fsync = bool(fsync)
        self.filenames = {}
        self._inc = 0
        self._temp_counter = 0

        if mode == "r":
            if not os.path.isdir(self.directory):
                raise FileNotFoundError(
                    errno.ENOENT,
                    "File(mode='r') needs an existing directory",
                    self.directory,
                )
        else:
            os.makedirs(self.directory, exist_ok=True)
        self._name_max = _name_max(self.directory)
        self._prefix = os.path.join(self.directory, "")  # directory + separator
        self._adopt()

    def _adopt(self) -> None:
        """Load the keys of the files already in the directory.

        A name in the ``quote(key)#N`` format gives that key; any other regular
        file is read as zict does (``unquote`` of the part before ``#``). When
        one key has several files (a write was interrupted between renaming the
        new file and removing the old one), the highest ``#N`` wins: it is the
        most recent write. Keys come in the order they were written.
        """
        found: dict[str, tuple[int, str]] = {}
        stale: list[str] = []
        writable = self.mode != "r"
        with os.scandir(self.directory) as entries:
            names = [e.name for e in entries if e.is_file()]
        for name in names:
            if name.startswith(TEMP_PREFIX):
                stale.append(name)
                continue
            if self.mode == "w":
                stale.append(name)
                continue
            match = _KEY_FILE.fullmatch(name)
            if match:
                key = _unquote(match.group(1))
                n = int(match.group(2))
                self._inc = max(self._inc, n + 1)
            else:
                key = _unquote(name.split("#", 1)[0])
                n = -1
            previous = found.get(key)
            if previous is None:
                found[key] = (n, name)
                continue
            if n > previous[0]:
                found[key], loser = (n, name), previous
            else:
                loser = (n, name)
            if loser[0] >= 0:  # remove only a file in the layout written here
                stale.append(loser[1])
        # In write order (#N grows with each write), not the arbitrary order of
        # the directory listing: a reopened File iterates as the one that wrote.
        ordered = sorted(found.items(), key=lambda item: item[1][0])
        self.filenames = {key: name for key, (_, name) in ordered}
        if writable:
            for name in stale:
                try:
                    os.remove(os.path.join(self.directory, name))
                except FileNotFoundError:
                    pass

    def _safe_key(self, key: str) -> str:
        """Return a new file name for *key*: the percent-quoted key plus a unique
        ``#N`` suffix (``N`` grows by one at each call).

        This is the hook for subclasses accepting other key types: it is where
        the key type is checked, and the only place where a key becomes a name.
        """
        if not isinstance(key, str):
            raise TypeError(f"File keys must be str, not {type(key).__name__}")
        name = f"{_quote(key)}#{self._inc}"
        self._inc += 1
        return name

    @staticmethod
    def _unsafe_key(name: str) -> str:
        """Return the key of a file name made by :meth:`_safe_key`."""
        return _unquote(name.split("#", 1)[0])

    def _check_name(self, name: str) -> None:
        """Refuse a name that is too long or that could leave the directory."""
        if (
            not isinstance(name, str)
            or name in ("", ".", "..")
            or "/" in name
            or (os.altsep is not None and os.altsep in name)
            or (os.sep != "/" and os.sep in name)
            or "\0" in name
            or name.startswith(TEMP_PREFIX)
        ):
            raise ValueError(f"_safe_key() returned an unusable file name: {name!r}")
        # quote() gives ASCII: len() is the byte count unless a subclass differs
        if len(name) * 4 > self._name_max:
            size = len(os.fsencode(name))
            if size > self._name_max:
                raise OSError(
                    errno.ENAMETOOLONG,
                    f"key too long for the file system: its file name would be "
                    f"{size} bytes, over the limit of {self._name_max} bytes per "
                    f"name in {self.directory!r} (non-ASCII characters take up to "
                    "9 bytes each once percent-quoted)",
                )

    def _check_writable(self) -> None:
        if self.mode == "r":
            raise io.UnsupportedOperation(
                f"File({self.directory!r}) was opened with mode='r': read-only"
            )

    def __str__(self) -> str:
        return f"<File: {self.directory}, {len(self)} elements>"

    __repr__ = __str__

    def __getitem__(self, key: str) -> bytearray | memoryview:  # type: ignore[override]
        # Open under the lock, so that a concurrent delete or overwrite cannot
        # remove the file in between; read without it. Once open, the file
        # stays readable even if another thread replaces or deletes the key.
        with self.lock:
            name = self.filenames[key]
            # closed by the with block below, after the lock is released
            fh = open(self._prefix + name, "rb", buffering=0)  # noqa: SIM115
        with fh:
            size = os.fstat(fh.fileno()).st_size
            if self.memmap:
                if not size:  # mmap refuses empty files
                    return memoryview(bytearray())
                # ACCESS_COPY: writable (dask keeps numpy arrays writable without
                # a copy), but private: the stored value never changes.
                return memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY))
            buf = bytearray(size)
            view = memoryview(buf)
            done = 0
            while done < size:
                n = fh.readinto(view[done:])
                if not n:
                    raise OSError(
                        errno.EIO,
                        f"{name!r} in {self.directory!r} was truncated while read",
                    )
                done += n
            return buf

    def __setitem__(self, key: str, value: FileValue) -> None:
        if self.mode == "r":
            self._check_writable()
        pieces = _chunks(value)
        with self.lock:
            name = self._safe_key(key)
            if (
                type(self)._safe_key is not File._safe_key
                or len(name) * 4 > self._name_max
            ):
                self._check_name(name)  # default names can only be too long
            temp = f"{TEMP_PREFIX}{os.getpid()}.{self._temp_counter}"
            self._temp_counter += 1
        prefix = self._prefix
        temp_path = prefix + temp
        try:
            # os.open/os.write(v) rather than open(): no Python file objects, and
            # a list value goes out in one writev() call. This claws back most of
            # what the extra rename costs (see benchmarks/file_write_cost.py).
            fd = os.open(temp_path, _O_NEW_FILE, 0o666)
            try:
                _write_all(fd, pieces)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            with self.lock:
                # This write completes now: it replaces whatever the key holds,
                # including the result of a write that started after it.
                os.replace(temp_path, prefix + name)
                # pop + insert: an overwritten key moves to the end, as in zict
                old = self.filenames.pop(key, None)
                self.filenames[key] = name
                if old is not None:
                    self._remove(old)
        except BaseException:
            try:
                os.remove(temp_path)
            except OSError:
                pass
            raise
        if self.fsync:
            self._fsync_directory()

    def _remove(self, name: str) -> None:
        try:
            os.remove(self._prefix + name)
        except FileNotFoundError:
            pass

    def _fsync_directory(self) -> None:
        if not hasattr(os, "O_DIRECTORY"):  # Windows: not possible, not needed
            return
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        with self.lock:
            name = self.filenames.pop(key)
            self._remove(name)
        if self.fsync:
            self._fsync_directory()

    def __contains__(self, key: object) -> bool:
        return key in self.filenames

    def __iter__(self) -> Iterator[str]:
        return iter(self.filenames)

    def __len__(self) -> int:
        return len(self.filenames)
