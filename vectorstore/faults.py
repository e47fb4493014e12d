"""Failpoints for the kill -9 tests: a write hook (``StoreOptions.on_write``) that kills the process there.

``Failpoint("after-chunk-batch")`` SIGKILLs the process the first time a document's write reaches that
point, ``Failpoint("after-chunk-batch:3")`` the third time; with ``once`` (a file), only the process that
creates the file dies, so a restarted worker goes on. ``rag.api.open_store`` installs one when the
settings name it (``RAG_FAILPOINT``, ``RAG_FAILPOINT_ONCE``); nothing else does.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

_HITS: dict[str, int] = {}  # per process, across the stores it opens


class Failpoint:
    def __init__(self, spec: str, once: str | os.PathLike | None = None):
        point, _, nth = spec.partition(":")
        self.point, self.nth, self.once = point, int(nth or 1), Path(once) if once else None

    def __call__(self, name: str) -> None:
        if name != self.point:
            return
        _HITS[name] = _HITS.get(name, 0) + 1
        if _HITS[name] < self.nth:
            return
        if self.once is not None:
            try:
                os.close(os.open(self.once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        os.kill(os.getpid(), signal.SIGKILL)
