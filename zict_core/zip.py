"""A mapping stored in a zip archive (mirrors ``zict.zip``)."""

from __future__ import annotations

import errno
import io
import os
import pathlib
import zipfile
from collections.abc import Iterator
from typing import Any, Literal, Union

from zict_core.common import ZictBase, locked

FileMode = Literal["r", "w", "x", "a"]
BytesLike = Union[bytes, bytearray, memoryview]


class Zip(ZictBase[str, bytes]):
    """Mutable mapping whose items are the members of a zip archive.

    Keys are member names (str); values are bytes-like, read back as ``bytes``.
    The archive is opened on first use; its table of contents is written by
    :meth:`flush` and :meth:`close` (and by leaving a ``with`` block).

    The zip format cannot change a member in place: overwriting an existing key
    or deleting one raises :class:`NotImplementedError` and leaves the archive
    intact.

    Parameters
    ----------
    filename: str or pathlib.Path
    mode: {"a", "w", "x", "r"}, optional
        As :class:`zipfile.ZipFile`: ``"a"`` (default) appends to an existing
        archive or creates one, ``"w"`` truncates, ``"x"`` creates a new file,
        ``"r"`` is read-only (writes raise :class:`io.UnsupportedOperation`).

    Notes
    -----
    Every method takes the lock, so one Zip can be shared between threads.
    Using a Zip after :meth:`close` raises ``OSError(EBADF)`` naming it.

    Examples
    --------
    >>> z = Zip("myfile.zip")
    >>> z["x"] = b"123"
    >>> z["x"]
    b'123'
    >>> z["x"] = b"456"
    Traceback (most recent call last):
      ...
    NotImplementedError: Zip cannot overwrite 'x': the zip format cannot replace a member in place
    >>> z.close()  # writes the table of contents
    >>> import zipfile
    >>> with zipfile.ZipFile("myfile.zip") as archive:
    ...     archive.namelist()
    ['x']
    """

    #: The archive's path, as passed in.
    filename: str | pathlib.Path
    #: The mode passed in, or ``"closed"`` after :meth:`close`.
    mode: FileMode | Literal["closed"]
    _file: zipfile.ZipFile | None

    def __init__(self, filename: str | pathlib.Path, mode: FileMode = "a"):
        super().__init__()
        if mode not in ("r", "w", "x", "a"):
            raise ValueError(f"Zip mode must be 'r', 'w', 'x' or 'a', not {mode!r}")
        self.filename = filename
        self.mode = mode
        self._file = None
        # "w" truncates and "x" insists on a new file, but only the first time:
        # after a flush() the archive is reopened for appending.
        self._reopen_mode: FileMode = mode

    @property
    def file(self) -> zipfile.ZipFile:
        """The open :class:`zipfile.ZipFile` (opened on first use)."""
        if self.mode == "closed":
            raise OSError(errno.EBADF, f"{self!r} is closed")
        if self._file is None or self._file.fp is None:
            self._file = zipfile.ZipFile(self.filename, mode=self._reopen_mode)
            if self._reopen_mode in ("w", "x"):
                self._reopen_mode = "a"
        return self._file

    @locked
    def __getitem__(self, key: str) -> bytes:
        if not isinstance(key, str):
            raise KeyError(key)
        return self.file.read(key)

    @locked
    def __setitem__(self, key: str, value: BytesLike) -> None:
        if not isinstance(key, str):
            raise TypeError(f"Zip keys must be str, not {type(key).__name__}")
        if not key or "\0" in key:
            # zipfile fails on "" and silently cuts a name at its first NUL
            raise ValueError(f"Zip keys must be non-empty and free of NUL: {key!r}")
        if isinstance(value, memoryview):
            data: Any = value.cast("B") if value.c_contiguous else value.tobytes()
        elif isinstance(value, (bytes, bytearray)):
            data = value
        else:
            raise TypeError(
                "Zip values must be bytes, bytearray or memoryview, not "
                f"{type(value).__name__}"
            )
        if self.mode == "r":
            raise io.UnsupportedOperation(
                f"{self!r} was opened with mode='r': read-only"
            )
        if key in self:
            raise NotImplementedError(
                f"Zip cannot overwrite {key!r}: the zip format cannot replace a "
                "member in place"
            )
        self.file.writestr(key, data)

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError("Zip cannot delete: the zip format does not allow it")

    @locked
    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self.file.getinfo(key)
        except KeyError:
            return False
        return True

    @locked
    def __iter__(self) -> Iterator[str]:
        return iter([info.filename for info in self.file.filelist])

    @locked
    def __len__(self) -> int:
        return len(self.file.filelist)

    def __str__(self) -> str:
        return f"<Zip: {os.fspath(self.filename)}, mode={self.mode!r}>"

    __repr__ = __str__

    @locked
    def flush(self) -> None:
        """Write the archive's table of contents: the file is then a complete
        zip archive. The archive is reopened on next use."""
        if self._file is not None:
            if self._file.fp is not None:
                self._file.fp.flush()
            self._file.close()
            self._file = None

    def close(self) -> None:
        """Flush and close for good: later use raises ``OSError(EBADF)``."""
        if "mode" not in self.__dict__:  # __del__ of a half-built instance
            return
        with self.lock:
            if self.mode != "closed":
                self.flush()
                self.mode = "closed"
