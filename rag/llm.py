"""The only module that imports openai: a chat model behind any OpenAI-compatible endpoint.

``LLM.complete`` is the one method a backend implements. Transient failures (timeouts, lost
connections, 429, 5xx) are retried with exponential backoff; a reply the model cut off at its
token limit raises :class:`IncompleteOutputError` instead of being used as if it were whole.
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rag.errors import LLMError
from rag.settings import LOCAL_DEADLINE, LOCAL_TIMEOUT, LLMSettings, openai_env

log = logging.getLogger(__name__)


def llm_from_env(spec: str | None, timeout: float | None = None, context: int | None = None) -> LLMSettings | None:
    """Decide the backend: ``--llm local[:NAME_OR_PATH.gguf]``, ``--llm MODEL[@BASE_URL]``, ``--llm none``,
    or the OpenAI environment variables. ``timeout`` and ``context`` override RAG_LLM_TIMEOUT and RAG_LLM_CONTEXT."""
    key, base = openai_env()
    given = {"timeout": timeout, "context_tokens": context}
    if spec is not None:
        if spec.lower() in {"none", "off", "extractive"}:
            return None
        if spec == "local" or spec.startswith("local:"):
            from rag.localmodel import resolve_model

            path = resolve_model(spec.partition(":")[2] or None)
            # a local model is named by its file, whatever RAG_LLM_MODEL says; a CPU needs the longer defaults
            return LLMSettings.from_env({"timeout": LOCAL_TIMEOUT, "deadline": LOCAL_DEADLINE}, model=path.stem, local_model=path, **given)
        name, _, url = spec.partition("@")
        return LLMSettings.from_env(model=name or None, base_url=url or base, api_key=key, **given)
    if key or base:
        return LLMSettings.from_env(base_url=base, api_key=key, **given)
    return None


class ReplyError(LLMError):
    """The endpoint answered, but the reply cannot be used as it is (cut off, empty, filtered).

    Unlike a failure to reach the endpoint, this is the model's problem, not the user's: callers
    keep what they can of ``partial`` or fall back to the embedded backend for that part."""

    kind = "unusable"

    def __init__(self, message: str, partial: str = "", kind: str | None = None):
        super().__init__(message)
        self.partial = partial
        self.kind = kind or self.kind


class IncompleteOutputError(ReplyError):
    """The model stopped at its token limit (finish_reason == "length"); the text is partial."""

    kind = "cut off"


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens, "retries": self.retries}


@dataclass
class LLM(ABC):
    usage: Usage = field(default_factory=Usage)
    deadline_at: float | None = None  # time.monotonic() past which no call or retry starts

    def start_deadline(self, seconds: float | None) -> None:
        """From now, ``seconds`` for every call and retry until the next start (one summary's budget)."""
        self.deadline_at = time.monotonic() + seconds if seconds else None

    @abstractmethod
    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> Completion:
        """One chat completion; raises IncompleteOutputError when the reply was cut off."""


class OpenAIChat(LLM):
    def __init__(self, settings: LLMSettings, backoff: float = 1.0):
        super().__init__()
        import openai

        self.settings = settings
        self.backoff = backoff
        self._openai = openai
        self.model = settings.model
        self.base_url = settings.base_url
        self._connect()

    def _connect(self) -> None:
        openai, settings = self._openai, self.settings
        if settings.local_model is not None:
            # The local model is one more OpenAI-compatible server: llama.cpp on 127.0.0.1, loaded once per
            # process; if it has stopped, this starts it again.
            from rag.localmodel import LocalServer

            server = LocalServer.get(settings.local_model, n_ctx=settings.context_tokens)
            self.base_url, self.model = server.base_url, server.model_name
        loopback = bool(self.base_url) and urlsplit(self.base_url).hostname in {"127.0.0.1", "localhost", "::1"}
        self.client = openai.OpenAI(
            api_key=settings.api_key or "not-needed",  # local servers (vLLM, Ollama, llama.cpp) ignore it
            base_url=self.base_url,
            # a server on this machine is never reached through HTTP_PROXY
            **({"http_client": openai.DefaultHttpxClient(trust_env=False)} if loopback else {}),
            timeout=settings.timeout,
            max_retries=0,  # retries are ours, so they are counted and logged
        )

    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> Completion:
        resp, where = self._request(messages, max_tokens)
        return self._completion(resp, max_tokens, where)

    def _request(self, messages: list[dict[str, str]], max_tokens: int):
        """The endpoint's response, retried on transient failures within the deadline; and the endpoint's name
        (a local server started again has another)."""
        openai = self._openai
        transient = (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)
        # a 200 whose body is not a completion (malformed JSON, a proxy's HTML page): retried like a 5xx
        malformed = (openai.APIResponseValidationError, ValueError)
        where = self.base_url or "the OpenAI API"
        deadline_at = self.deadline_at
        for attempt in range(self.settings.max_retries + 1):
            timeout = self.settings.timeout
            if deadline_at is not None:
                left = deadline_at - time.monotonic()
                if left <= 1:
                    raise ReplyError(f"The deadline for model calls passed before {where} answered.", kind="deadline")
                timeout = min(timeout, left)
            try:
                resp = self.client.with_options(timeout=timeout).chat.completions.create(
                    model=self.model,
                    messages=messages,
                    max_tokens=max_tokens,
                    temperature=self.settings.temperature,
                )
                if not isinstance(getattr(resp, "choices", None), list):
                    raise ValueError("not a chat completion")
                break
            except (*transient, *malformed) as exc:
                if attempt == self.settings.max_retries:
                    if isinstance(exc, malformed):
                        raise ReplyError(f"The model endpoint {where} sent no usable completion ({type(exc).__name__}) in {attempt + 1} tries.",
                                         kind="unusable") from exc
                    raise LLMError(f"The model endpoint {where} kept failing ({type(exc).__name__}) after {attempt + 1} tries; check the server or retry later.") from exc
                delay = self._delay(exc, attempt)
                if self.settings.local_model is not None and isinstance(exc, openai.APIConnectionError):
                    # LocalServer.get hands back the running server, or starts one if it has stopped
                    before = self.base_url
                    self._connect()
                    if self.base_url != before:
                        log.warning("the local model server had stopped; started it again at %s", self.base_url)
                        where = self.base_url
                if deadline_at is not None and time.monotonic() + delay >= deadline_at:
                    raise ReplyError(f"The deadline for model calls passed while {where} kept failing ({type(exc).__name__}).", kind="deadline") from exc
                self.usage.retries += 1
                log.warning("%s from %s; retrying in %.1fs", type(exc).__name__, where, delay)
                time.sleep(delay)
            except openai.AuthenticationError as exc:
                raise LLMError(f"The model endpoint {where} rejected the API key; set OPENAI_API_KEY to a valid key.") from exc
            except openai.NotFoundError as exc:
                raise LLMError(f"Model {self.model!r} is not served at {where}; pass another with --llm MODEL.") from exc
            except openai.APIStatusError as exc:
                raise LLMError(f"The model endpoint {where} refused the request ({exc.status_code}): {exc.message}") from exc
        return resp, where

    def _completion(self, resp, max_tokens: int, where: str) -> Completion:
        """The reply as a completion, counted in the usage; a reply cut off, filtered or empty is a named error."""
        if not getattr(resp, "choices", None):
            raise ReplyError(f"The model endpoint {where} sent a reply without choices.", kind="empty")
        choice = resp.choices[0]
        text = ((choice.message.content if choice.message else None) or "").strip()
        usage = resp.usage
        done = Completion(text, choice.finish_reason or "stop", getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0)
        self.usage.calls += 1
        self.usage.prompt_tokens += done.prompt_tokens
        self.usage.completion_tokens += done.completion_tokens
        if done.finish_reason == "length":
            raise IncompleteOutputError(f"The model's reply was cut off at {max_tokens} tokens.", partial=text)
        if done.finish_reason == "content_filter":
            raise ReplyError("The model's reply was withheld by its content filter.", partial=text, kind="filtered")
        if not text:
            raise ReplyError("The model sent an empty reply.", kind="empty")
        return done

    def _delay(self, exc: Exception, attempt: int) -> float:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        try:
            retry_after = float(headers.get("retry-after", ""))
        except ValueError:
            retry_after = 0.0
        return min(30.0, max(retry_after, self.backoff * 2**attempt * (0.75 + 0.5 * random.random())))
