"""Cut extracted documents into chunks that follow the document's sections.

The document's text is the blocks joined by blank lines; every chunk is an exact slice of it
(``text == full_text[char_start:char_end]``), so offsets point back into the document.

* A chunk never spans two sections: a heading (with the headings right before it that have
  no text of their own) starts a new chunk, and the chunk's ``heading_path`` is the path of
  the section it sits in.
* Blocks (a paragraph, a list item, a table) are kept whole; a section longer than
  ``max_chars`` is cut between blocks into parts of about equal size. Only a block longer
  than ``max_chars`` on its own is cut inside, at the best boundary (a sentence end, a line
  break, a space), each piece starting with a short overlap from the end of the previous one.
* What is embedded and indexed for full text is :func:`embedding_text`: the heading path
  followed by the chunk's text. What is shown is the chunk's text alone.

``max_chars`` (900) was chosen by measurement on both labelled sets of ``bench/`` (hit@1 per
size in ``docs/benchmarks.md``, "chunk size").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from phi_core_api.documents.extraction import Block, ExtractedDocument
from phi_core_api.documents.extraction.base import LIST_MARKER as LIST_ITEM

BLOCK_SEPARATOR = "\n\n"
HEADING_PATH_SEPARATOR = " > "


@dataclass(frozen=True)
class ChunkingOptions:
    max_chars: int = 900
    # Cutting inside an over-long block: the smallest piece worth cutting off, and the overlap.
    min_chars: int = 400
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

    @classmethod
    def stored(cls, index: int, text: str, heading_path: list[str] | None) -> Chunk:
        """A chunk as read back from ``document_chunks`` (its text, index and heading path;
        offsets within the chunk only), for cutting its units again."""
        return cls(index, text, 0, len(text), None, None, list(heading_path or []))

    def metadata(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "page_end": self.page_end,
            "heading_path": self.heading_path,
            "char_start": self.char_start,
            "char_end": self.char_end,
        }


def embedding_text(heading_path: list[str] | None, text: str) -> str:
    """The text embedded for a chunk (by ingestion and by ``phi-documents reembed``): the
    heading path gives the model the section's context that the chunk's words may lack."""
    if heading_path:
        return HEADING_PATH_SEPARATOR.join(heading_path) + "\n" + text
    return text


@dataclass
class _Span:
    start: int
    end: int
    page: int | None
    heading_path: tuple[str, ...]
    is_heading: bool


@dataclass
class _Section:
    heading_path: tuple[str, ...]
    leading: list[_Span]  # the heading lines that open it
    body: list[_Span]


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


def _sections(spans: list[_Span]) -> list[_Section]:
    sections: list[_Section] = []
    for span in spans:
        if span.is_heading:
            if sections and not sections[-1].body:
                # A heading with no text of its own opens the next section with it.
                sections[-1].leading.append(span)
                sections[-1].heading_path = span.heading_path
            else:
                sections.append(_Section(span.heading_path, [span], []))
        else:
            if not sections:
                sections.append(_Section(span.heading_path, [], []))
            sections[-1].body.append(span)
    return sections


# Preferred cut points inside an over-long block, best first; each pattern matches the text
# *before* the cut.
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
    """Start of the overlap taken from the end of the previous piece, at a word boundary."""
    if overlap <= 0:
        return prev_end
    lo = max(prev_start + 1, prev_end - overlap)
    window = text[lo:prev_end]
    sentence = re.search(r"[.!?]\s+", window)
    if sentence:
        return lo + sentence.end()
    space = re.search(r"\s+", window)
    return lo + space.end() if space else prev_end


def _pieces(text: str, span: _Span, opts: ChunkingOptions) -> list[_Span]:
    """An over-long block cut into overlapping pieces of at most ``max_chars``."""
    if span.end - span.start <= opts.max_chars:
        return [span]
    pieces: list[_Span] = []
    start = span.start
    while start < span.end:
        hard_end = min(start + opts.max_chars, span.end)
        cut = (
            span.end
            if hard_end == span.end
            else _best_cut(text, start, hard_end, start + opts.min_chars)
        )
        pieces.append(_Span(start, cut, span.page, span.heading_path, False))
        if cut >= span.end:
            break
        next_start = _overlap_start(text, start, cut, opts.overlap_chars)
        start = next_start if next_start > start else cut
    return pieces


def chunk_document(doc: ExtractedDocument, options: ChunkingOptions | None = None) -> list[Chunk]:
    """Split ``doc`` into chunks; see the module docstring for the rules."""
    opts = options or ChunkingOptions()
    text = full_text(doc)
    chunks: list[Chunk] = []

    def emit(parts: list[_Span], heading_path: tuple[str, ...]) -> None:
        start, end = parts[0].start, parts[-1].end
        # Trim whitespace at the edges so offsets point at text.
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            return
        pages = [p.page for p in parts if p.page is not None]
        chunks.append(
            Chunk(
                index=len(chunks),
                text=text[start:end],
                char_start=start,
                char_end=end,
                page=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                heading_path=list(heading_path),
            )
        )

    for section in _sections(_block_spans(doc.blocks)):
        if not section.body:
            # Headings at the end of the document with nothing under them.
            emit(section.leading, section.heading_path)
            continue
        atoms = [piece for span in section.body for piece in _pieces(text, span, opts)]
        lead = section.leading
        size = (atoms[-1].end - (lead or atoms)[0].start) if atoms else 0
        # Parts of about equal size rather than full chunks and a small remainder.
        target = size / max(1, math.ceil(size / opts.max_chars))
        current: list[_Span] = list(lead)
        for atom in atoms:
            body = [p for p in current if not p.is_heading]
            if body:
                length = atom.end - current[0].start
                overlapping = atom.start < body[-1].end  # pieces of one long block
                if length > opts.max_chars or (
                    not overlapping and body[-1].end - current[0].start >= target
                ):
                    emit(current, section.heading_path)
                    current = []
            current.append(atom)
        if current:
            emit(current, section.heading_path)
    return chunks


# ---------------------------------------------------------------------------------------------
# Units: the small pieces search matches on (small-to-big retrieval). A question about one fact
# is closest to the sentence or list item that states it; the passage around it is what is
# returned. Measured in docs/benchmarks.md ("small-to-big").


@dataclass(frozen=True)
class UnitOptions:
    max_chars: int = 300


@dataclass
class Unit:
    index: int  # inside its chunk
    text: str
    char_start: int  # offsets inside the chunk's text
    char_end: int


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = start
    for match in _SENTENCE_BREAK.finditer(text, start, end):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def split_units(chunk: Chunk, options: UnitOptions | None = None) -> list[Unit]:
    """The units of a chunk: each list item and table row group on its own, paragraphs as
    groups of consecutive sentences of at most ``max_chars`` (a longer sentence is a unit of
    its own). The section's heading lines are left out: the heading path is embedded and
    indexed with every unit anyway."""
    opts = options or UnitOptions()
    text = chunk.text
    headings = set(chunk.heading_path)
    units: list[Unit] = []

    def add(start: int, end: int) -> None:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            units.append(Unit(len(units), text[start:end], start, end))

    pos = 0
    for part in re.split(r"(\n\s*\n)", text):
        start, end = pos, pos + len(part)
        pos = end
        block = part.strip()
        if not block or block in headings:
            continue
        if LIST_ITEM.match(block) or "\n" in block and "|" in block:
            # A list item, or a table: rows grouped up to the size.
            pieces = [(start, end)] if LIST_ITEM.match(block) else _lines(text, start, end)
        else:
            pieces = _sentences(text, start, end)
        group_start, group_end = pieces[0]
        for a, b in pieces[1:]:
            if b - group_start > opts.max_chars:
                add(group_start, group_end)
                group_start = a
            group_end = b
        add(group_start, group_end)
    return units


def document_units(
    chunks: list[Chunk], options: UnitOptions | None = None
) -> list[tuple[Chunk, Unit]]:
    """The units of a document's chunks, each with its chunk. A document made only of headings
    has no unit of its own; each of its chunks is then one unit, so the document can still be
    found by its headings (and the units backfill, which looks for documents without units,
    does not find it again at every run)."""
    units = [(chunk, unit) for chunk in chunks for unit in split_units(chunk, options)]
    if units:
        return units
    return [
        (chunk, Unit(0, chunk.text, 0, len(chunk.text))) for chunk in chunks if chunk.text.strip()
    ]


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    pos = start
    for line in text[start:end].split("\n"):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans
