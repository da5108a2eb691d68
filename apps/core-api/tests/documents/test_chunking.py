from __future__ import annotations

import random

from phi_core_api.documents.chunking import (
    ChunkingOptions,
    chunk_document,
    embedding_text,
    full_text,
)
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
        assert len(chunk.text) <= 900 + len("Section 0\n\n")
        covered.update(range(chunk.char_start, chunk.char_end))
    # Every non-space character of the document is in some chunk.
    missing = [i for i, c in enumerate(text) if not c.isspace() and i not in covered]
    assert missing == []


def test_a_chunk_never_spans_two_sections() -> None:
    rng = random.Random(7)
    blocks = [
        Block("Rules and standards", heading_level=1),
        Block("Daily limits", heading_level=2),
        Block("Drivers may drive 9 hours a day, twice a week 10 hours."),
        Block("Weekly limits", heading_level=2),
        Block("Drivers may not exceed 56 hours in a week or 90 hours in a fortnight."),
        Block("Reporting", heading_level=1),
        Block(_paragraph(rng, 3)),
    ]
    chunks = chunk_document(_doc(blocks))
    # Small sections, each its own chunk: the weekly limit is not mixed with the daily one.
    assert [c.heading_path for c in chunks] == [
        ["Rules and standards", "Daily limits"],
        ["Rules and standards", "Weekly limits"],
        ["Reporting"],
    ]
    # A heading with no text of its own opens the chunk of the next one.
    assert chunks[0].text.startswith("Rules and standards\n\nDaily limits\n\nDrivers may drive")
    assert chunks[1].text.startswith("Weekly limits\n\nDrivers may not exceed 56 hours")
    assert "Reporting" not in chunks[1].text


def test_list_items_stay_whole_and_long_sections_are_cut_between_blocks() -> None:
    items = [
        f"- Step {i}: check the {w} and record the result in the daily log before the shift "
        "ends, then sign the sheet."
        for i, w in enumerate(
            [
                "tyres",
                "lights",
                "mirrors",
                "brakes",
                "horn",
                "forks",
                "mast",
                "chains",
                "battery",
                "seat belt",
                "extinguisher",
                "load plate",
            ]
        )
    ]
    blocks = [Block("Pre-shift check", heading_level=1), Block("Every driver, every shift:")]
    blocks += [Block(t, list_item=True) for t in items]
    doc = _doc(blocks)
    chunks = chunk_document(doc, ChunkingOptions(max_chars=500))
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.heading_path == ["Pre-shift check"]
        # Every item is in exactly one chunk, whole.
    for item in items:
        assert sum(item in c.text for c in chunks) == 1
    # Parts of about equal size, not full chunks and a scrap.
    sizes = [len(c.text) for c in chunks]
    assert max(sizes) - min(sizes) < 250


def test_long_paragraph_is_cut_at_sentences_with_overlap() -> None:
    rng = random.Random(3)
    doc = _doc([Block(_paragraph(rng, 60))])
    chunks = chunk_document(doc)
    assert len(chunks) >= 4
    for chunk in chunks[:-1]:
        assert 400 <= len(chunk.text) <= 900
        assert chunk.text.endswith(".")
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        overlap = prev.char_end - nxt.char_start
        assert 0 < overlap <= 100
        assert nxt.text[0].isupper()  # overlap starts at a sentence


def test_paragraphs_are_packed_whole_without_overlap() -> None:
    rng = random.Random(2)
    paragraphs = [_paragraph(rng, 3) for _ in range(20)]  # each ~250 chars
    chunks = chunk_document(_doc([Block(p) for p in paragraphs]))
    for chunk in chunks:
        assert chunk.text.endswith(".")
        assert chunk.text.split("\n\n")[0] in paragraphs
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.char_start > prev.char_end


def test_text_without_any_boundary_still_respects_max() -> None:
    doc = _doc([Block("x" * 3500)])
    chunks = chunk_document(doc)
    assert [len(c.text) for c in chunks] == [900, 900, 900, 800]


def test_heading_path_is_where_the_chunk_starts_and_pages() -> None:
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
    assert all("Dispatch" not in c.text for c in receiving)
    assert dispatch[0].text.startswith("Dispatch")  # a new section starts a new chunk
    assert dispatch[0].page == 2
    assert dispatch[-1].page_end == 3
    meta = dispatch[0].metadata()
    assert set(meta) == {"page", "page_end", "heading_path", "char_start", "char_end"}


def test_embedding_text_puts_the_heading_path_before_the_text() -> None:
    assert embedding_text(["Rules", "Weekly limits"], "56 hours.") == (
        "Rules > Weekly limits\n56 hours."
    )
    assert embedding_text([], "56 hours.") == "56 hours."


def test_options_are_honoured() -> None:
    rng = random.Random(5)
    doc = _doc([Block(_paragraph(rng, 40))])
    chunks = chunk_document(doc, ChunkingOptions(min_chars=200, max_chars=300, overlap_chars=0))
    assert all(len(c.text) <= 300 for c in chunks)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.char_start >= prev.char_end


def test_empty_document_has_no_chunks() -> None:
    assert chunk_document(_doc([])) == []
