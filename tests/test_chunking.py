from ingest.chunking import ChunkingConfig, chunk_document
from ingest.sections import detect_sections, item_at
from ingest.sentences import split_sentences
from ingest.types import Document


def _doc(text: str) -> Document:
    return Document(source="/x.txt", text=text, sections=detect_sections(text))


def test_sentences_respect_abbreviations_and_lines():
    text = "Acme Foods, Inc. sells in the U.S. and Canada. Net sales were $412.3 million, up 8.5%.\nRow $1 $2"
    assert split_sentences(text) == [
        "Acme Foods, Inc. sells in the U.S. and Canada.",
        "Net sales were $412.3 million, up 8.5%.",
        "Row $1 $2",
    ]


def test_sections_found_and_table_of_contents_tolerated():
    text = "Item 1. Business 3\nItem 7. MD&A 20\nPART I\nItem 1. Business\nWe make food.\nItem 1A. Risk Factors\nRisky.\nITEM 7.\nMANAGEMENT'S DISCUSSION\nSales rose."
    sections = detect_sections(text)
    assert [s.item for s in sections] == ["Item 1", "Item 7", "Item 1", "Item 1A", "Item 7"]
    assert sections[-1].title == "MANAGEMENT'S DISCUSSION"
    assert item_at(sections, text.index("We make food")) == "Item 1"
    assert item_at(sections, text.index("Sales rose")) == "Item 7"
    assert item_at(sections, 0) == "Item 1"


def test_chunks_fit_the_window_keep_spans_and_items(real_embedder):
    para = " ".join(f"Sentence number {i} says net sales grew {i}% to ${i},000 thousand." for i in range(60))
    table = "\n".join(f"Segment {i} $ {i},123 $ {i},456 {i}.5%" for i in range(30))
    text = f"Item 1. Business\n{para}\n{table}\nItem 7. Management's Discussion\n{para}"
    doc = _doc(text)
    cfg = ChunkingConfig()
    chunks = chunk_document(doc, "d", real_embedder.count_tokens_batch, cfg)
    counts = real_embedder.count_tokens_batch([c.text for c in chunks])
    assert max(counts) <= cfg.max_tokens < 254  # the model's 256 window minus [CLS] and [SEP]
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert {c.item for c in chunks} == {"Item 1", "Item 7"}
    # no chunk crosses the item boundary
    boundary = text.index("Item 7.")
    assert all(c.end <= boundary or c.start >= boundary for c in chunks)
    # table rows are never split: every row is whole inside some chunk
    for row in table.splitlines():
        assert any(row in c.text for c in chunks)
    # consecutive chunks of the same item overlap, so a fact on the boundary is whole somewhere
    same = [(a, b) for a, b in zip(chunks, chunks[1:]) if a.item == b.item]
    assert same and all(b.start < a.end for a, b in same)


def test_an_overlong_line_is_split_at_words(real_embedder):
    text = "Item 1. Business\n" + " ".join(["word"] * 2000)
    chunks = chunk_document(_doc(text), "d", real_embedder.count_tokens_batch)
    assert len(chunks) > 5
    assert max(real_embedder.count_tokens_batch([c.text for c in chunks])) <= 250
