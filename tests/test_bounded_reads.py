"""Input that never ends: only regular files are read, and every read stops at the limit.

Each bad path is run through the real ``rag ingest`` in a child process watched from here: its
resident memory is sampled while it runs (and it is killed past ``RSS_CAP_MB``, so a regression
cannot take the machine down), its peak comes from ``os.wait4`` in a small wrapper process, and the
time of each line on stderr is taken as it arrives.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingest.errors import InputError
from ingest.files import read_regular_file

ROOT = Path(__file__).resolve().parents[1]
RAG = [sys.executable, "-m", "rag.cli"]
SECONDS = 5.0  # each bad path answers within this
PEAK_MB = 300  # and below this peak resident memory
RSS_CAP_MB = 1500  # a child past this is killed: the test fails instead of the machine


@dataclass
class Run:
    returncode: int
    stdout: str
    lines: list[tuple[float, str, int]] = field(default_factory=list)  # (seconds after start, stderr line, peak KB then)
    peak_kb: int = 0
    seconds: float = 0.0
    killed: str = ""


def _hwm_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(r"^VmHWM:\s+(\d+)", status, re.M)
    return int(m.group(1)) if m else 0


# The child is started by a small wrapper, which reports its pid and then its own wait4 rusage: a
# child forked from pytest itself would count pytest's memory (often hundreds of MB of models) as its peak.
WRAPPER = """
import os, subprocess, sys
fd = int(sys.argv[1])
child = subprocess.Popen(sys.argv[2:])
os.write(fd, f"{child.pid}\\n".encode())
_, status, usage = os.wait4(child.pid, 0)
os.write(fd, f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}\\n".encode())
"""


def run_watched(args: list[str], env: dict | None = None, timeout: float = 120.0) -> Run:
    """Run ``rag ARGS``, timing each stderr line, sampling memory, killing it past the cap or the timeout."""
    full_env = {**os.environ, "RAG_STORE": "", "HF_HUB_OFFLINE": "1", **(env or {})}
    full_env.pop("OPENAI_API_KEY", None)
    full_env.pop("OPENAI_BASE_URL", None)
    report_r, report_w = os.pipe()
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", WRAPPER, str(report_w), *RAG, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full_env, cwd=ROOT, pass_fds=(report_w,))
    os.close(report_w)
    report = os.fdopen(report_r)
    pid = int(report.readline())
    run = Run(returncode=-1, stdout="")
    out: list[bytes] = []

    def read_err() -> None:
        for raw in iter(proc.stderr.readline, b""):
            for line in raw.decode(errors="replace").replace("\r", "\n").splitlines():
                if line.strip():
                    run.lines.append((time.monotonic() - t0, line, _hwm_kb(pid)))

    readers = [threading.Thread(target=read_err, daemon=True),
               threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)]
    for t in readers:
        t.start()
    while proc.poll() is None:
        elapsed = time.monotonic() - t0
        if _hwm_kb(pid) > RSS_CAP_MB * 1024:
            run.killed = f"over {RSS_CAP_MB} MB resident after {elapsed:.1f} s"
        elif elapsed > timeout:
            run.killed = f"still running after {timeout:.0f} s"
        if run.killed:
            for victim in (pid, proc.pid):
                try:
                    os.kill(victim, 9)
                except ProcessLookupError:
                    pass
            break
        time.sleep(0.02)
    proc.wait()
    run.seconds = time.monotonic() - t0
    for t in readers:
        t.join(timeout=5)
    final = report.readline().split()
    report.close()
    run.returncode, run.peak_kb = (int(final[0]), int(final[1])) if len(final) == 2 else (proc.returncode, 0)
    run.stdout = b"".join(out).decode(errors="replace")
    return run


# --------------------------------------------------------------------------- bad paths, one at a time


def _fifo(t: Path, name: str = "fifo.txt") -> Path:
    path = t / name
    os.mkfifo(path)
    return path


def _socket(t: Path) -> Path:
    path = t / "sock.txt"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # the socket file stays
    return path


def _zero_link(t: Path) -> Path:
    path = t / "zero.txt"
    path.symlink_to("/dev/zero")
    return path


# A writer that sends 8 MB into the FIFO (it blocks until a reader opens it), four times the limit.
FIFO_WRITER = "import sys\ntry:\n    with open(sys.argv[1], 'wb') as f:\n        f.write(b'Item 1. Business\\n' * 500_000)\nexcept BrokenPipeError:\n    pass\n"
# A writer that grows a file without end: 16 MB at once, then 64 kB every 10 ms.
GROWER = ("import sys, time\nwith open(sys.argv[1], 'ab', buffering=0) as f:\n    f.write(b'We sell anvils.\\n' * 1_048_576)\n"
          "    while True:\n        f.write(b'We sell anvils.\\n' * 4096)\n        time.sleep(0.01)\n")


def _with_writer(script: str, make):
    """A setup that makes the path, then starts ``script`` on it (killed at the end of the test)."""
    def setup(t: Path, procs: list) -> Path:
        path = make(t)
        procs.append(subprocess.Popen([sys.executable, "-c", script, str(path)], stderr=subprocess.DEVNULL))
        if script is GROWER:
            while not path.exists() or path.stat().st_size < 16 * 2**20:
                time.sleep(0.01)
        return path
    return setup


def _growing(t: Path) -> Path:
    return t / "growing.txt"


# name -> (setup(tmp, writer processes) -> path, RAG_MAX_FILE_MB, expected message)
CASES = {
    "/dev/zero": (lambda t, p: Path("/dev/zero"), None, "is a character device, not a regular file"),
    "a link to /dev/zero": (lambda t, p: _zero_link(t), None, "is a character device, not a regular file"),
    "a FIFO with no writer": (lambda t, p: _fifo(t), None, "is a named pipe (FIFO), not a regular file"),
    "a FIFO whose writer sends more than the limit": (_with_writer(FIFO_WRITER, _fifo), "2", "is a named pipe (FIFO), not a regular file"),
    "a socket": (lambda t, p: _socket(t), None, "is a socket, not a regular file"),
    "a file that grows while it is read": (_with_writer(GROWER, _growing), "4",
                                           re.compile(r"over the 4 MB limit|holds more than the 4 MB limit|changed while it was read")),
}


def _matches(expected, line: str) -> bool:
    return bool(expected.search(line)) if isinstance(expected, re.Pattern) else expected in line


@pytest.mark.parametrize("name", list(CASES))
def test_bad_path_is_one_line_in_seconds_and_bounded_memory(name: str, tmp_path: Path) -> None:
    setup, limit_mb, expected = CASES[name]
    work, store = tmp_path / "work", tmp_path / "store"
    work.mkdir()
    procs: list[subprocess.Popen] = []
    try:
        path = setup(work, procs)
        run = run_watched(["ingest", str(path), "--store", str(store)], env={"RAG_MAX_FILE_MB": limit_mb} if limit_mb else None,
                          timeout=30)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert not run.killed, run.killed
    assert run.returncode == 2, (run.returncode, run.lines)
    assert [line for _, line, _ in run.lines] == [run.lines[0][1]], run.lines  # one line, no traceback
    assert run.lines[0][1].startswith(f"Error: {path} ") and _matches(expected, run.lines[0][1]), run.lines[0][1]
    assert run.stdout == ""
    assert run.seconds < SECONDS, f"{run.seconds:.1f} s"
    assert run.peak_kb < PEAK_MB * 1024, f"peak {run.peak_kb / 1024:.0f} MB"
    assert not store.exists()  # bad input never touches the store


# --------------------------------------------------------------------------- a glob over a folder of both


GOOD = {
    "anvils.txt": "ANVIL WORKS, INC.\n(Exact name of registrant as specified in its charter)\nFORM 10-K\n"
                  "Item 1. Business\nAnvil Works sells forged steel anvils to farriers and blacksmiths through 40 dealers.\n"
                  "Item 7. Management's Discussion and Analysis\nNet sales were $12.4 million in 2024, up 8% from 2023.\n",
    "lenders_10k.txt": (ROOT / "tests" / "data" / "lenders_10k.txt").read_text(encoding="utf-8"),
}


def test_glob_over_a_folder_indexes_the_good_files_and_reports_each_bad_one(tmp_path: Path) -> None:
    folder, store = tmp_path / "filings", tmp_path / "store"
    folder.mkdir()
    (folder / "sub").mkdir()  # a folder the pattern matches is passed over, not an error
    for name, text in GOOD.items():
        (folder / name).write_text(text, encoding="utf-8")
    bad = [_zero_link(folder), _fifo(folder, "quiet.txt"), _socket(folder)]
    procs = []
    try:
        bad.append(_with_writer(FIFO_WRITER, lambda t: _fifo(t, "loud.txt"))(folder, procs))
        bad.append(_with_writer(GROWER, _growing)(folder, procs))
        run = run_watched(["ingest", str(folder / "*"), "--store", str(store)], env={"RAG_MAX_FILE_MB": "4"}, timeout=300)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert not run.killed, run.killed
    assert run.returncode == 1, run.lines
    skipped = [(t, line, kb) for t, line, kb in run.lines if line.startswith("skipped: ")]
    assert sorted(line.split()[1] for _, line, _ in skipped) == sorted(str(p) for p in bad), skipped  # one line per bad path
    for t, line, kb in skipped:
        assert t < SECONDS and kb < PEAK_MB * 1024, (line, f"{t:.1f} s", f"{kb / 1024:.0f} MB")
    assert f"{len(bad)} of {len(bad) + len(GOOD)} files skipped; {len(GOOD)} indexed." in [line for _, line, _ in run.lines]
    indexed = [line.split("\t") for line in run.stdout.splitlines()]
    assert sorted(Path(row[3]).name for row in indexed if row[1] == "added") == sorted(GOOD)
    assert not any("Traceback" in line for _, line, _ in run.lines)


# --------------------------------------------------------------------------- the reader itself


def test_a_file_that_grows_during_the_read_is_refused_at_the_limit(tmp_path: Path, monkeypatch) -> None:
    """Each read finds another megabyte appended: the read stops one byte past the limit."""
    path = tmp_path / "grows.txt"
    path.write_bytes(b"x" * 2**20)
    import ingest.files as files

    real_read, reads = os.read, []

    def read_and_grow(fd: int, n: int) -> bytes:
        with open(path, "ab") as f:
            f.write(b"y" * 2**20)
        block = real_read(fd, n)
        reads.append(len(block))
        return block

    monkeypatch.setattr(files.os, "read", read_and_grow)
    with pytest.raises(InputError, match=r"holds more than the 4 MB limit for one filing; split it, or raise the limit with RAG_MAX_FILE_MB\.$"):
        read_regular_file(path, limit=4 * 2**20)
    assert sum(reads) == 4 * 2**20 + 1


def test_a_file_appended_to_during_the_read_is_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "appended.txt"
    path.write_bytes(b"Item 1. Business\n" * 1000)
    import ingest.files as files

    real_read, calls = os.read, []

    def read_once_then_append(fd: int, n: int) -> bytes:
        block = real_read(fd, n)
        if not calls:
            with open(path, "ab") as f:
                f.write(b"half a sentence")
        calls.append(n)
        return block

    monkeypatch.setattr(files.os, "read", read_once_then_append)
    with pytest.raises(InputError, match="changed while it was read; wait until it is completely written"):
        read_regular_file(path)


def test_a_regular_file_within_the_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "ok.txt"
    data = os.urandom(3 * 2**20 + 17)
    path.write_bytes(data)
    assert read_regular_file(path, limit=len(data)) == data
    with pytest.raises(InputError, match="is 3 MB, over the 3 MB limit"):
        read_regular_file(path, limit=len(data) - 1)


def test_the_ray_driver_plans_only_regular_files(tmp_path: Path) -> None:
    """The driver reads every file before shipping its bytes: a FIFO or a device is an error result, not a hang."""
    from rag.distributed import plan_ingest

    good = tmp_path / "anvils.txt"
    good.write_text(GOOD["anvils.txt"])
    fifo, zero = _fifo(tmp_path), _zero_link(tmp_path)

    class NoDocuments:
        def get_document(self, doc_id):
            return None

    t0 = time.monotonic()
    todo, done = plan_ingest(NoDocuments(), [fifo, good, zero])
    assert time.monotonic() - t0 < SECONDS
    assert [Path(p.source).name for p in todo] == ["anvils.txt"]
    assert {d.source: d.error.split(" is ", 1)[1] for d in done} == {
        str(fifo): "a named pipe (FIFO), not a regular file; save the filing to a file and pass that file.",
        str(zero): "a character device, not a regular file; save the filing to a file and pass that file.",
    }


def test_a_profile_or_case_file_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    from queries.profile import load_profile
    from rag.evaluate import load_cases

    fifo = _fifo(tmp_path, "profile.toml")
    with pytest.raises(InputError, match="named pipe"):
        load_profile(fifo)
    with pytest.raises(InputError, match="No case files"):
        load_cases(fifo)
