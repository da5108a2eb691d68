"""PDF through pypdfium2 (Google's PDFium, Apache-2.0/BSD-3).

Library choice: measured in ``bench/pdf_extraction.py`` (figures in ``docs/benchmarks.md``)
against pypdf, pdfminer.six and PyMuPDF; pypdfium2 and PyMuPDF were the fastest by a wide
margin with equal text quality, and PyMuPDF is AGPL-3.0, so pypdfium2 it is.

A PDF has no paragraph, list or heading markup, only positioned characters. PDFium gives each
character's font size, font and baseline, so every line is measured: a line in a larger font
than the body text, or all in bold, is a heading (consecutive heading lines of the same size
are one wrapped title; sizes rank the levels); a vertical gap wider than the line spacing ends
a paragraph; a line starting with a bullet or an item number opens a list item, and the lines
indented under it continue it. A document set in one font and size gives nothing to measure:
its headings are then recognised by shape (``pdf_page_blocks``).
"""

from __future__ import annotations

import ctypes
import re
import statistics
from dataclasses import dataclass
from typing import Any

from phi_core_api.documents.extraction.base import (
    LIST_MARKER,
    SENTENCE_END,
    Block,
    BlockSink,
    ExtractedDocument,
    ExtractionFailed,
    ExtractionLimits,
    heading_level_by_shape,
    join_lines,
    normalise,
    too_much_text,
)

# A line this much larger than the body text is a heading.
HEADING_SIZE_RATIO = 1.12
# A baseline gap wider than this many font sizes ends a paragraph (single spacing is ~1.2).
PARAGRAPH_GAP = 1.5
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)


@dataclass
class _Line:
    text: str
    page: int
    x: float
    y: float  # baseline, from the bottom of the page
    size: float
    bold: bool


def extract_pdf(data: bytes, limits: ExtractionLimits) -> ExtractedDocument:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise ExtractionFailed(
                "the PDF is password-protected; upload an unlocked copy"
            ) from exc
        raise ExtractionFailed(f"the PDF is damaged and cannot be read ({exc})") from exc
    try:
        page_count = len(pdf)
        if page_count == 0:
            raise ExtractionFailed("the PDF has no pages")
        if page_count > limits.max_pages:
            raise ExtractionFailed(
                f"the PDF has {page_count} pages; the limit is {limits.max_pages}. "
                "Split it into smaller files"
            )
        lines: list[_Line] = []
        page_texts: list[str] = []
        chars = 0
        for index in range(page_count):
            try:
                page = pdf[index]
                textpage = page.get_textpage()
                try:
                    raw = textpage.get_text_range()
                    chars += len(raw)
                    if chars > limits.max_chars:
                        raise too_much_text(limits.max_chars)
                    page_texts.append(raw)
                    lines.extend(_measure_lines(textpage, raw, index + 1))
                finally:
                    textpage.close()
                    page.close()
            except pdfium.PdfiumError as exc:
                raise ExtractionFailed(
                    f"page {index + 1} of the PDF is damaged and cannot be read ({exc})"
                ) from exc
        sink = BlockSink(limits)
        blocks = _blocks_from_lines(lines)
        if blocks is None:
            for number, raw in enumerate(page_texts, 1):
                sink.extend(pdf_page_blocks(normalise(raw), number))
        else:
            sink.extend(blocks)
        if not sink.blocks:
            raise ExtractionFailed("no extractable text (scanned?)")
        return ExtractedDocument(kind="pdf", blocks=sink.blocks, page_count=page_count)
    finally:
        pdf.close()


def _measure_lines(textpage: Any, text: str, page: int) -> list[_Line]:
    """The page's lines with the baseline, size and weight of their characters."""
    import pypdfium2.raw as pdfium_c

    if len(text) != textpage.count_chars():
        return []  # characters outside the BMP shift the indices; the shape rules apply
    handle = textpage.raw
    font_name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    x = ctypes.c_double()
    y = ctypes.c_double()
    lines: list[_Line] = []
    for match in re.finditer(r"[^\r\n]+", text):
        line = match.group().strip()
        if not line:
            continue
        start = match.start() + (len(match.group()) - len(match.group().lstrip()))
        # Sample up to 8 characters spread along the line (the bullet glyph excluded).
        visible = [i for i in range(start, match.end()) if not text[i].isspace()]
        sample = visible[1:] if len(visible) > 1 else visible
        sample = sample[:: max(1, len(sample) // 8)][:8]
        sizes = [round(pdfium_c.FPDFText_GetFontSize(handle, i), 1) for i in sample]
        bold = 0
        for i in sample:
            weight = pdfium_c.FPDFText_GetFontWeight(handle, i)
            pdfium_c.FPDFText_GetFontInfo(handle, i, font_name, len(font_name), ctypes.byref(flags))
            if weight >= 600 or _BOLD.search(font_name.value.decode("latin-1", "replace")):
                bold += 1
        pdfium_c.FPDFText_GetCharOrigin(handle, start, ctypes.byref(x), ctypes.byref(y))
        lines.append(
            _Line(
                text=line,
                page=page,
                x=x.value,
                y=y.value,
                size=statistics.mode(sizes) if sizes else 0.0,
                bold=bool(sample) and bold == len(sample),
            )
        )
    return lines


def _blocks_from_lines(lines: list[_Line]) -> list[Block] | None:
    """Blocks from measured lines; None when the fonts tell nothing (one size, no bold)."""
    if not lines:
        return None
    weights: dict[float, int] = {}
    for line in lines:
        weights[line.size] = weights.get(line.size, 0) + len(line.text)
    body = max(weights, key=lambda s: weights[s])

    def heading_like(line: _Line) -> bool:
        if len(line.text) > 160 or line.text[-1] in ",;":
            return False
        if line.size >= body * HEADING_SIZE_RATIO:
            return True
        # Bold at the body size: a run-in heading, if short and not a sentence.
        return (
            line.bold
            and line.size >= body * 0.95
            and len(line.text) <= 80
            and not SENTENCE_END.search(line.text)
            and not LIST_MARKER.match(line.text)
        )

    flagged = [heading_like(line) for line in lines]
    if not any(flagged):
        return None
    sizes = sorted(
        {round(li.size) for li, f in zip(lines, flagged, strict=True) if f}, reverse=True
    )

    def level_of(line: _Line) -> int:
        rank = sizes.index(round(line.size)) + 1
        return min(rank, 6)

    blocks: list[Block] = []
    current: list[_Line] = []
    kind = ""  # "heading", "item" or "para" for the block being built

    def flush() -> None:
        nonlocal kind
        if current:
            if kind == "heading":
                text = " ".join(li.text for li in current)
                blocks.append(
                    Block(text=text, page=current[0].page, heading_level=level_of(current[0]))
                )
            else:
                blocks.append(
                    Block(
                        text=join_lines([li.text for li in current]),
                        page=current[0].page,
                        list_item=kind == "item",
                    )
                )
            current.clear()
        kind = ""

    for line, is_heading in zip(lines, flagged, strict=True):
        previous = current[-1] if current else None
        near = (
            previous is not None
            and previous.page == line.page
            and 0 < previous.y - line.y <= PARAGRAPH_GAP * max(previous.size, line.size)
        )
        if is_heading:
            if not (kind == "heading" and near and round(previous.size) == round(line.size)):  # type: ignore[union-attr]
                flush()
                kind = "heading"
            current.append(line)
            continue
        if LIST_MARKER.match(line.text):
            flush()
            kind = "item"
            current.append(line)
            continue
        if kind == "item" and near:
            first = current[0]
            indented = line.x > first.x + 0.5 * line.size
            if indented or not SENTENCE_END.search(previous.text):  # type: ignore[union-attr]
                current.append(line)
                continue
        if kind == "para" and near:
            current.append(line)
            continue
        flush()
        kind = "para"
        current.append(line)
    flush()
    return blocks


def pdf_page_blocks(text: str, page: int) -> list[Block]:
    """One page's text split by shape alone: headings, list items and reflowed paragraphs.
    Used when the fonts carry no signal (every line in one size and weight)."""
    blocks: list[Block] = []
    current: list[str] = []
    in_item = False

    def flush() -> None:
        if current:
            blocks.append(Block(text=join_lines(current), page=page, list_item=in_item))
            current.clear()

    lines = [line.strip() for line in text.split("\n")]
    previous: str | None = None
    for i, line in enumerate(lines):
        if not line:
            flush()
            in_item = False
            continue
        following = next((n for n in lines[i + 1 :] if n), None)
        level = heading_level_by_shape(line, previous, following)
        if level is not None:
            flush()
            in_item = False
            blocks.append(Block(text=line, page=page, heading_level=level))
        elif LIST_MARKER.match(line):
            flush()
            in_item = True
            current.append(line)
        else:
            if in_item and previous and SENTENCE_END.search(previous) and line[0].isupper():
                flush()  # a new sentence at the margin after a finished item: body text
                in_item = False
            current.append(line)
        previous = line
    flush()
    return blocks
