"""Cut extracted documents into overlapping chunks of 500-1000 characters for embedding.

The document's text is the blocks joined by blank lines; every chunk is an exact slice of it
(``text == full_text[char_start:char_end]``), so offsets point back into the document. A chunk
ends at the best boundary available inside the size window: a heading, then a paragraph break,
then a line break after a sentence, a sentence end, a line break, a space. Each chunk after a
cut inside a section starts with a short overlap taken from the end of the previous one (also
cut at a word boundary) so that a sentence split across two chunks is still found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from phi_core_api.documents.extraction import Block, ExtractedDocument

BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ChunkingOptions:
    min_chars: int = 500
    max_chars: int = 1000
    overlap_chars: int = 100


@dataclass
class Chunk:
    index: int
    text: str
    char_start: int
    char_end: int
    page: int | None
    page_end: int | None
    heading_path: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "page_end": self.page_end,
            "heading_path": self.heading_path,
            "char_start": self.char_start,
            "char_end": self.char_end,
        }


@dataclass
class _Span:
    start: int
    end: int
    page: int | None
    heading_path: tuple[str, ...]
    is_heading: bool


def full_text(doc: ExtractedDocument) -> str:
    """The text the chunk offsets refer to: the blocks joined by blank lines."""
    return BLOCK_SEPARATOR.join(b.text for b in doc.blocks)


def _block_spans(blocks: list[Block]) -> list[_Span]:
    spans: list[_Span] = []
    path: list[tuple[int, str]] = []  # (level, heading text)
    offset = 0
    for block in blocks:
        if block.heading_level is not None:
            while path and path[-1][0] >= block.heading_level:
                path.pop()
            path.append((block.heading_level, " ".join(block.text.split())))
        spans.append(
            _Span(
                start=offset,
                end=offset + len(block.text),
                page=block.page,
                heading_path=tuple(h for _, h in path),
                is_heading=block.heading_level is not None,
            )
        )
        offset += len(block.text) + len(BLOCK_SEPARATOR)
    return spans


# Preferred cut points, best first; each pattern matches the text *before* the cut.
_BOUNDARIES = (
    re.compile(r"\n\s*\n"),
    re.compile(r"[.!?:;][\"')\]]*\n"),
    re.compile(r"[.!?][\"')\]]*\s"),
    re.compile(r"\n"),
    re.compile(r"[,;]\s"),
    re.compile(r"\s"),
)


def _best_cut(text: str, lo: int, hi: int, min_cut: int) -> int:
    """Best cut position in text[lo:hi] that is at least ``min_cut``; ``hi`` if none."""
    window = text[lo:hi]
    for pattern in _BOUNDARIES:
        ends = [m.end() for m in pattern.finditer(window) if lo + m.end() >= min_cut]
        if ends:
            return lo + ends[-1]
    return hi


def _overlap_start(text: str, prev_start: int, prev_end: int, overlap: int) -> int:
    """Start of the overlap taken from the end of the previous chunk, at a word boundary."""
    if overlap <= 0:
        return prev_end
    lo = max(prev_start + 1, prev_end - overlap)
    window = text[lo:prev_end]
    sentence = re.search(r"[.!?]\s+", window)
    if sentence:
        return lo + sentence.end()
    space = re.search(r"\s+", window)
    return lo + space.end() if space else prev_end


def chunk_document(doc: ExtractedDocument, options: ChunkingOptions | None = None) -> list[Chunk]:
    """Split ``doc`` into chunks; see the module docstring for the rules."""
    opts = options or ChunkingOptions()
    text = full_text(doc)
    spans = _block_spans(doc.blocks)
    chunks: list[Chunk] = []

    def span_at(pos: int) -> _Span:
        for span in spans:
            if span.end >= pos:
                return span
        return spans[-1]

    def emit(start: int, end: int) -> None:
        # Trim whitespace at the edges so offsets point at text.
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            return
        covered = [s for s in spans if s.end > start and s.start < end]
        pages = [s.page for s in covered if s.page is not None]
        # The heading path of the body text contributing the most characters.
        body = [s for s in covered if not s.is_heading] or covered
        main = max(body, key=lambda s: min(s.end, end) - max(s.start, start))
        chunks.append(
            Chunk(
                index=len(chunks),
                text=text[start:end],
                char_start=start,
                char_end=end,
                page=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                heading_path=list(main.heading_path),
            )
        )

    # Positions where a heading starts: preferred cuts that take no overlap.
    heading_starts = [s.start for s in spans if s.is_heading]
    start = 0
    n = len(text)
    while start < n:
        hard_end = min(start + opts.max_chars, n)
        if hard_end == n:
            # The rest fits; still cut before a heading if the part before it is big enough.
            cut = next((h for h in heading_starts if start + opts.min_chars <= h < n), None)
            if cut is None:
                emit(start, n)
                break
            emit(start, cut)
            start = cut
            continue
        heading_cut = next(
            (h for h in heading_starts if start + opts.min_chars <= h <= hard_end), None
        )
        if heading_cut is not None:
            emit(start, heading_cut)
            start = heading_cut
            continue
        cut = _best_cut(text, start, hard_end, start + opts.min_chars)
        emit(start, cut)
        # Do not carry overlap across a heading: the next chunk starts a new section.
        next_start = _overlap_start(text, start, cut, opts.overlap_chars)
        if span_at(cut).is_heading or next_start <= start:
            next_start = cut
        start = next_start
    return chunks
