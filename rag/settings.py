"""One strict settings object. Environment variables only for secrets and locations."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


def default_store_dir() -> Path:
    """``RAG_STORE`` if set, else a per-user data directory (e.g. ~/.local/share/rag-filings/store)."""
    if os.environ.get("RAG_STORE"):
        return Path(os.environ["RAG_STORE"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("rag-filings")) / "store"


class LLMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("gpt-4o-mini", description="Chat model name, as the endpoint knows it.")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server); None is OpenAI.")
    api_key: str | None = Field(None, description="Secret; from OPENAI_API_KEY. Local servers accept any value.")
    local_model: Path | None = Field(None, description="A GGUF file run on this machine's cores (`--llm local`); the endpoint is then a llama.cpp server on 127.0.0.1.")
    timeout: float = Field(120.0, gt=0, description="Seconds per request before it counts as a transient failure (--llm-timeout, RAG_LLM_TIMEOUT). A CPU needs minutes for a long prompt: `--llm local` defaults to 600.")
    max_retries: int = Field(4, ge=0, description="Retries on timeouts, 429 and 5xx, with exponential backoff.")
    context_tokens: int = Field(8192, gt=1000, description="Context window per call, prompt and reply (--llm-context, RAG_LLM_CONTEXT); also the local server's n_ctx.")
    evidence_tokens: int = Field(1000, ge=200, description="Evidence sentences shown to the model per facet, in tokens: 5 facets x 1,000 keeps a summary's input near 6,000 tokens at any filing length.")
    temperature: float = Field(0.0, ge=0, le=2)
    deadline: float = Field(900.0, gt=0, description="Seconds for all model calls of one summary (RAG_LLM_DEADLINE); past it no call is started or retried, and facets not yet written keep the embedded backend's sentences. `--llm local` defaults to 1800.")

    @property
    def is_local(self) -> bool:
        return self.local_model is not None


LOCAL_TIMEOUT = 600.0  # a 1.5B model on 2 cores reads about 50 prompt tokens/s and writes about 14/s
LOCAL_DEADLINE = 1800.0  # five calls of 1-2 minutes each, with room for a slow machine


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store: Path = Field(default_factory=default_store_dir, description="Persistent Chroma directory.")
    chroma_url: str | None = Field(None, description="Chroma server URL (RAG_CHROMA_URL); overrides store.")
    chunks_per_facet: int | None = Field(
        None, ge=1, le=50,
        description="Chunks of evidence retrieved per facet; None: 40 (reading more costs ~0.3 s and lifts evidence recall from 0.67 to 0.90 on eval/cases). An LLM is shown the best sentences of these, not the chunks, so its cost does not grow with k.",
    )

    def evidence_k(self) -> int:
        return self.chunks_per_facet or 40
    llm: LLMSettings | None = Field(None, description="None: the embedded extractive backend, no model needed.")


def _env_number(name: str, kind=float):
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        from ingest.errors import InputError

        raise InputError(f"{name}={raw!r} is not a number; unset it or give a number.") from None


def llm_from_env(spec: str | None, timeout: float | None = None, context: int | None = None) -> LLMSettings | None:
    """Decide the backend: ``--llm local[:NAME_OR_PATH.gguf]``, ``--llm MODEL[@BASE_URL]``, ``--llm none``,
    or the OpenAI environment variables. ``timeout`` and ``context`` override RAG_LLM_TIMEOUT and RAG_LLM_CONTEXT."""
    key = os.environ.get("OPENAI_API_KEY")
    base = os.environ.get("OPENAI_BASE_URL")
    model = os.environ.get("RAG_LLM_MODEL")
    timeout = timeout if timeout is not None else _env_number("RAG_LLM_TIMEOUT")
    context = context if context is not None else _env_number("RAG_LLM_CONTEXT", int)
    deadline = _env_number("RAG_LLM_DEADLINE")
    extra = {k: v for k, v in {"timeout": timeout, "context_tokens": context, "deadline": deadline}.items() if v is not None}
    if spec is not None:
        if spec.lower() in {"none", "off", "extractive"}:
            return None
        if spec == "local" or spec.startswith("local:"):
            from rag.localmodel import resolve_model

            path = resolve_model(spec.partition(":")[2] or None)
            return LLMSettings(model=path.stem, local_model=path, **{"timeout": LOCAL_TIMEOUT, "deadline": LOCAL_DEADLINE, **extra})
        name, _, url = spec.partition("@")
        return LLMSettings(model=name or model or "gpt-4o-mini", base_url=url or base, api_key=key, **extra)
    if key or base:
        return LLMSettings(model=model or "gpt-4o-mini", base_url=base, api_key=key, **extra)
    return None
