"""Reading a user's file into memory: only regular files, and never more than the limit.

``stat`` cannot be trusted for the size: a device (``/dev/zero``) or a named pipe says 0 bytes
and never ends, and a file can grow after it was measured. So the type is checked on the open
descriptor (opened with ``O_NONBLOCK``, so that a FIFO without a writer cannot block the open),
and the read itself stops one byte past the limit:

    a limit of 64 MiB  ->  at most 64 MiB + 1 byte are read; the 64 MiB + 1st byte means "too big"

The limit is the caller's (``rag.settings.FileSettings``, fed by ``RAG_MAX_FILE_MB``); MAX_FILE_MB by default.

A file whose size or modification time changes while it is read is refused too: what would be
indexed is a half-written file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ingest.errors import InputError

__all__ = ["MAX_FILE_MB", "max_file_bytes", "not_regular", "read_regular_file"]

MAX_FILE_MB = 64  # the longest 10-K text here is about 1 MB; an inline-XBRL HTML filing can reach 30 MB
_READ_BLOCK = 1 << 20


def max_file_bytes(mb: float = MAX_FILE_MB) -> int:
    """The largest file a loader reads, in bytes, for a limit of ``mb`` MiB: past it, memory is not bounded by design."""
    return max(1, int(mb * 1024 * 1024))


# What a path that is not a regular file is, in words a user knows.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def not_regular(path: Path, mode: int) -> InputError | None:
    """The one-line error for a path that is not a regular file (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return InputError(f"{path} is a directory; pass the files inside it.")
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return InputError(f"{path} is {kind}, not a regular file; save the filing to a file and pass that file.")


def _unreadable(path: Path, err: OSError) -> InputError:
    if err.errno == errno.ENOENT:
        return InputError(f"{path} does not exist; check the path and try again.")
    return InputError(f"{path} cannot be read ({err.strerror}); check its permissions.")


def _too_big(path: Path, size: int | None, limit: int, what: str) -> InputError:
    mb = f"{limit / 2**20:,.0f}" if limit >= 2**20 else f"{limit / 2**20:,.2f}"
    said = f"is {size / 2**20:,.0f} MB, over" if size is not None else "holds more than"
    return InputError(f"{path} {said} the {mb} MB limit for one {what}; split it, or raise the limit with RAG_MAX_FILE_MB.")


def read_regular_file(path: str | os.PathLike[str], limit: int | None = None, what: str = "filing") -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` bytes (default ``max_file_bytes()``, 64 MiB).

    Every other case is an ``InputError`` of one line: missing, unreadable, a directory, a FIFO,
    a device or a socket, over the limit (by its size, or by what the read found), or changed
    while it was read.
    """
    path = Path(path)
    limit = max_file_bytes() if limit is None else limit
    try:
        before = os.stat(path)
    except OSError as err:
        raise _unreadable(path, err) from None
    if (error := not_regular(path, before.st_mode)) is not None:
        raise error
    if before.st_size > limit:
        raise _too_big(path, before.st_size, limit, what)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: a FIFO put here since the stat cannot hold the open
    except OSError as err:
        raise _unreadable(path, err) from None
    try:
        opened = os.fstat(fd)
        if (error := not_regular(path, opened.st_mode)) is not None:
            raise error
        blocks: list[bytes] = []
        total = 0
        while total <= limit:
            try:
                block = os.read(fd, min(_READ_BLOCK, limit + 1 - total))
            except OSError as err:
                raise _unreadable(path, err) from None
            if not block:
                break
            blocks.append(block)
            total += len(block)
        if total > limit:
            raise _too_big(path, None, limit, what)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if after.st_size != total or after.st_mtime_ns != opened.st_mtime_ns:
        raise InputError(f"{path} changed while it was read; wait until it is completely written and try again.")
    return b"".join(blocks)
