"""Small file-system rules every stage shares: what a path is (for one-line errors), how an
OS error reads, and temp files that end up with the user's umask like any other file."""

from __future__ import annotations

import os
import stat
import tempfile

from .errors import TinyrnnError


def require_regular_file(path: str | os.PathLike, what: str) -> None:
    """A TinyrnnError saying what the path is instead, if it is not a regular file.

    Checked without opening: opening a FIFO for reading blocks until a writer comes."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise TinyrnnError(f"{os.fspath(path)}: no such {what}") from None
    except OSError as exc:
        raise TinyrnnError(f"{os.fspath(path)}: cannot read the {what} ({os_error_text(exc)})") from None
    if stat.S_ISDIR(mode):
        raise TinyrnnError(f"{os.fspath(path)}: a directory, not a file ({what} expected)")
    if not stat.S_ISREG(mode):
        kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"
        raise TinyrnnError(f"{os.fspath(path)}: a {kind}, not a regular file ({what} expected)")


def os_error_text(exc: OSError) -> str:
    """ "No space left on device", with the file name when the OS gave one (never ": None")."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{text}: {exc.filename}" if exc.filename else text


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; restored at once
    os.umask(mask)
    return mask


def temp_beside(path: str | os.PathLike, prefix: str = "", suffix: str = ".tmp") -> tuple[int, str]:
    """mkstemp in the target's directory (so a rename is atomic), but with the mode a plain
    ``open(path, "w")`` would give: mkstemp's own 0600 would make shared artifacts unreadable."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=prefix, suffix=suffix)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp
