"""What every format's extractor shares: the blocks it produces, its errors and its limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

FileKind = Literal["pdf", "docx", "txt", "md"]


class ExtractionError(Exception):
    """Base class: the message is meant for the person who uploaded the file."""


class UnsupportedFileType(ExtractionError):
    """The content is not one of the supported kinds, or does not match the file name."""


class ExtractionFailed(ExtractionError):
    """The file is of a supported kind but cannot (or must not) be read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ExtractionLimits:
    max_pages: int = 2000
    # DOCX: cap on the total inflated size of all zip members and on any member's ratio.
    max_docx_uncompressed_bytes: int = 200 * 1024 * 1024
    max_docx_compression_ratio: int = 200
    max_docx_members: int = 5000
    # Text kept from one document. 3M characters is ~1,500 dense pages; past it chunking and
    # embedding would hold a worker for an hour (6 chunks/s on 2 cores), so the file is
    # refused with a reason instead.
    max_chars: int = 3_000_000


@dataclass(frozen=True)
class Block:
    """A run of text: a heading (``heading_level`` 1-6), a list item (``list_item``), or body
    text (a paragraph, a table, a code block)."""

    text: str
    page: int | None = None
    heading_level: int | None = None
    list_item: bool = False


@dataclass
class ExtractedDocument:
    kind: FileKind
    blocks: list[Block] = field(default_factory=list)
    page_count: int | None = None

    @property
    def char_count(self) -> int:
        return sum(len(b.text) for b in self.blocks)


class BlockSink:
    """Collects blocks and refuses the document once its text passes ``max_chars``, so a huge
    file fails early instead of being held whole in memory."""

    def __init__(self, limits: ExtractionLimits) -> None:
        self.blocks: list[Block] = []
        self.chars = 0
        self.max_chars = limits.max_chars

    def add(self, block: Block) -> None:
        if not block.text:
            return
        self.chars += len(block.text)
        if self.chars > self.max_chars:
            raise too_much_text(self.max_chars)
        self.blocks.append(block)

    def extend(self, blocks: list[Block]) -> None:
        for block in blocks:
            self.add(block)


def too_much_text(max_chars: int) -> ExtractionFailed:
    return ExtractionFailed(
        f"the document has more than {max_chars:,} characters of text (the limit); "
        "split it into smaller files"
    )


def normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # Form feeds and other page separators become paragraph breaks; trailing spaces go.
    text = text.replace("\f", "\n\n").replace("\u00ad", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# A list item's marker: a bullet glyph, a dash, or an item number/letter ("3.", "b)", "(iv)").
LIST_MARKER = re.compile(
    r"^(?:[\u2022\u25e6\u25aa\u25ab\u2023\u2219\u00b7\u25cf\u25cb\u25a0\u25a1\u2043\uf0b7*\-\u2013]"
    r"|\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)])\s+\S"
)

# A heading has no markup in a PDF or a text file: it is recognised by shape. Numbered ("2.",
# "3.1 Scope") or a short line without closing punctuation that follows the end of a sentence
# (or the top of the page) and is followed by more text.
NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
SENTENCE_END = re.compile(r"[.!?:;]$")


def heading_level_by_shape(line: str, previous: str | None, following: str | None) -> int | None:
    words = line.split()
    if not following or not (1 <= len(words) <= 10) or len(line) > 80:
        return None
    if line[-1] in ".,;:!?" or not (line[0].isupper() or line[0].isdigit()):
        return None
    if LIST_MARKER.match(line) and not NUMBERED.match(line):
        return None
    if previous is not None and not SENTENCE_END.search(previous):
        return None  # the tail of a wrapped sentence, not a heading
    numbered = NUMBERED.match(line)
    if numbered:
        return min(numbered.group(1).count(".") + 1, 6)
    # Unnumbered: short ("Cold chain"), or longer with most words capitalised, as titles are.
    capitalised = sum(1 for w in words if w[0].isupper() or not w[0].isalpha())
    return 1 if len(words) <= 6 or capitalised >= len(words) * 0.6 else None


def join_lines(lines: list[str]) -> str:
    """Wrapped lines as one paragraph again; words hyphenated across a break are rejoined."""
    joined = " ".join(line.strip() for line in lines if line.strip())
    return re.sub(r"(\w)- (\w)", lambda m: m.group(1) + m.group(2), joined)
