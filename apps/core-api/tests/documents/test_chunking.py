from __future__ import annotations

import random

from phi_core_api.documents.chunking import ChunkingOptions, chunk_document, full_text
from phi_core_api.documents.extraction import Block, ExtractedDocument


def _sentence(rng: random.Random) -> str:
    words = ["pallet", "dock", "shift", "carrier", "label", "scanner", "aisle", "report"]
    return " ".join(rng.choice(words) for _ in range(rng.randint(6, 14))).capitalize() + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _doc(blocks: list[Block]) -> ExtractedDocument:
    return ExtractedDocument(kind="md", blocks=blocks)


def test_chunks_are_exact_slices_within_size_and_cover_everything() -> None:
    rng = random.Random(1)
    blocks = []
    for s in range(6):
        blocks.append(Block(f"Section {s}", heading_level=1))
        blocks.extend(Block(_paragraph(rng, rng.randint(2, 9))) for _ in range(rng.randint(2, 6)))
    doc = _doc(blocks)
    text = full_text(doc)
    chunks = chunk_document(doc)
    assert len(chunks) > 5
    covered = set()
    for chunk in chunks:
        assert chunk.text == text[chunk.char_start : chunk.char_end]
        assert len(chunk.text) <= 1000
        covered.update(range(chunk.char_start, chunk.char_end))
    # Every non-space character of the document is in some chunk.
    missing = [i for i, c in enumerate(text) if not c.isspace() and i not in covered]
    assert missing == []
    # Most chunks reach the minimum; the short ones end at a heading or the end.
    heading_starts = {text.index(f"Section {s}") for s in range(6)}
    for chunk, nxt in zip(chunks, chunks[1:] + [None], strict=True):
        if len(chunk.text) < 500:
            assert nxt is None or nxt.char_start in heading_starts


def test_cuts_prefer_paragraph_breaks_and_overlap_consecutive_chunks() -> None:
    rng = random.Random(2)
    paragraphs = [_paragraph(rng, 3) for _ in range(20)]  # each ~250 chars
    doc = _doc([Block(p) for p in paragraphs])
    chunks = chunk_document(doc)
    for chunk in chunks[:-1]:
        # A cut lands at the end of a paragraph, never mid-word.
        assert chunk.text.endswith(".")
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        overlap = prev.char_end - nxt.char_start
        assert 0 < overlap <= 100
        assert nxt.text[0].isupper()  # overlap starts at a sentence


def test_long_paragraph_is_cut_at_sentences() -> None:
    rng = random.Random(3)
    doc = _doc([Block(_paragraph(rng, 60))])
    chunks = chunk_document(doc)
    assert len(chunks) >= 4
    for chunk in chunks[:-1]:
        assert 500 <= len(chunk.text) <= 1000
        assert chunk.text.endswith(".")


def test_text_without_any_boundary_still_respects_max() -> None:
    doc = _doc([Block("x" * 3500)])
    chunks = chunk_document(doc)
    assert [len(c.text) for c in chunks] == [1000, 1000, 1000, 500]


def test_heading_path_and_pages() -> None:
    rng = random.Random(4)
    blocks = [
        Block("Warehouse manual", page=1, heading_level=1),
        Block("Receiving", page=1, heading_level=2),
        Block(_paragraph(rng, 8), page=1),
        Block("Dispatch", page=2, heading_level=2),
        Block(_paragraph(rng, 8), page=2),
        Block(_paragraph(rng, 8), page=3),
    ]
    chunks = chunk_document(_doc(blocks))
    receiving = [c for c in chunks if c.heading_path == ["Warehouse manual", "Receiving"]]
    dispatch = [c for c in chunks if c.heading_path == ["Warehouse manual", "Dispatch"]]
    assert receiving and dispatch
    assert all(c.page == 1 for c in receiving)
    assert dispatch[0].text.startswith("Dispatch")  # a new section starts a new chunk
    assert dispatch[0].page == 2
    assert dispatch[-1].page_end == 3
    meta = dispatch[0].metadata()
    assert set(meta) == {"page", "page_end", "heading_path", "char_start", "char_end"}


def test_options_are_honoured() -> None:
    rng = random.Random(5)
    doc = _doc([Block(_paragraph(rng, 40))])
    chunks = chunk_document(doc, ChunkingOptions(min_chars=200, max_chars=300, overlap_chars=0))
    assert all(len(c.text) <= 300 for c in chunks)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.char_start >= prev.char_end


def test_empty_document_has_no_chunks() -> None:
    assert chunk_document(_doc([])) == []
