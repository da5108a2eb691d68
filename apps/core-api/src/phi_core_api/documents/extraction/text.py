"""Plain text: paragraphs split at blank lines, list items one block each, and short title-like
lines between paragraphs recognised as headings (the same shape rule as a PDF's)."""

from __future__ import annotations

import codecs
import re

from phi_core_api.documents.extraction.base import (
    LIST_MARKER,
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

TEXT_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def looks_like_text(head: bytes) -> bool:
    for bom, _ in TEXT_BOMS:
        if head.startswith(bom):
            return True
    if b"\x00" in head:
        return False
    # Cut at a character boundary: a multi-byte sequence may be split at the end of `head`.
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason in ("unexpected end of data",):
            return True
    # Not UTF-8: accept single-byte text (Windows-1252 and the like) if it has no control
    # characters other than whitespace.
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls == 0


def decode_text(data: bytes, limits: ExtractionLimits) -> str:
    # Refused before decoding: even the densest encoding (UTF-32) needs 4 bytes a character,
    # and the decoded copy of a 25 MB file would cost ~100 MB of str.
    if len(data) > limits.max_chars * 4:
        raise too_much_text(limits.max_chars)
    text: str | None = None
    for bom, encoding in TEXT_BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ExtractionFailed(f"the text file is not valid {encoding} ({exc})") from exc
            break
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Legacy single-byte text; cp1252 is what such files usually are.
            text = data.decode("cp1252", errors="replace")
    if len(text) > limits.max_chars:
        raise too_much_text(limits.max_chars)
    return text


def text_blocks(text: str, page: int | None = None) -> list[Block]:
    """Blocks of plain text: see the module docstring."""
    paragraphs = [p for p in re.split(r"\n\s*\n", normalise(text)) if p.strip()]
    blocks: list[Block] = []
    for i, paragraph in enumerate(paragraphs):
        lines = [line for line in paragraph.split("\n") if line.strip()]
        if len(lines) == 1:
            previous = paragraphs[i - 1].rstrip() if i else None
            following = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
            level = heading_level_by_shape(lines[0].strip(), previous, following)
            if level is not None:
                blocks.append(Block(text=lines[0].strip(), page=page, heading_level=level))
                continue
        blocks.extend(_lines_to_blocks(lines, page))
    return blocks


def _lines_to_blocks(lines: list[str], page: int | None) -> list[Block]:
    """A paragraph's lines: each line starting with a list marker opens a list item that runs
    until the next marker; lines before the first marker are one paragraph."""
    blocks: list[Block] = []
    current: list[str] = []
    in_item = False

    def flush() -> None:
        if current:
            if in_item:
                blocks.append(Block(text=join_lines(current), page=page, list_item=True))
            else:
                # Plain text keeps its line breaks: they can be a table or an address.
                blocks.append(Block(text="\n".join(line.rstrip() for line in current), page=page))
            current.clear()

    for line in lines:
        if LIST_MARKER.match(line.strip()):
            flush()
            in_item = True
        current.append(line.strip() if in_item else line)
    flush()
    return blocks


def extract_text(data: bytes, limits: ExtractionLimits) -> ExtractedDocument:
    sink = BlockSink(limits)
    sink.extend(text_blocks(decode_text(data, limits)))
    return ExtractedDocument(kind="txt", blocks=sink.blocks)
