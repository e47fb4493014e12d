import hashlib

from rag import tokens


def test_tiktoken_works_offline_from_the_seeded_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens.get_encoding.cache_clear()
    try:
        assert tokens.count_tokens("Net sales were $412.3 million.") == 9
        url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
        assert (tmp_path / hashlib.sha1(url.encode()).hexdigest()).is_file()
    finally:
        tokens.get_encoding.cache_clear()


def test_truncate_keeps_whole_sentences():
    text = "One two three. Four five six. Seven eight nine ten."
    cut = tokens.truncate_to_tokens(text, 8)
    assert cut == "One two three. Four five six."
    assert tokens.count_tokens(cut) <= 8
    assert tokens.truncate_to_tokens(text, 100) == text


def test_truncate_a_single_long_sentence_at_a_word():
    text = " ".join(["revenue"] * 50) + "."
    cut = tokens.truncate_to_tokens(text, 10)
    assert tokens.count_tokens(cut) <= 10 and cut.endswith(".")


def test_encoding_follows_the_model():
    assert tokens.encoding_for_model("gpt-4o-mini") == "o200k_base"
    assert tokens.encoding_for_model("qwen2.5") == "cl100k_base"
    assert tokens.encoding_for_model(None) == "cl100k_base"
