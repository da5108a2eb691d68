"""Turn an uploaded file into text blocks (with pages and headings) that can be chunked.

Supported: PDF, DOCX, plain text and Markdown. The kind of a file is decided from its
content (magic bytes, zip members, text decoding), and the file name's extension must agree,
so a renamed image or a PDF called ``.txt`` is refused as unsupported rather than parsed.

PDF library: pypdfium2 (Google's PDFium, Apache-2.0/BSD-3). Measured in
``bench/pdf_extraction.py`` (figures in ``docs/benchmarks.md``) against pypdf, pdfminer.six and
PyMuPDF: pypdfium2 and PyMuPDF were the fastest by a wide margin with equal text quality, and
PyMuPDF is AGPL-3.0 (a SaaS serving it over a network would have to publish its source or buy a
commercial licence), so pypdfium2 it is.

Hostile input is refused with :class:`ExtractionFailed` carrying a sentence a person can act
on: empty file, damaged or encrypted PDF, too many pages, a DOCX whose members inflate beyond a
cap (zip bomb), and a document with no text layer ("no extractable text (scanned?)").
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

FileKind = Literal["pdf", "docx", "txt", "md"]

# Extensions accepted for each kind; the content decides the kind, the extension must agree.
EXTENSIONS: dict[FileKind, tuple[str, ...]] = {
    "pdf": (".pdf",),
    "docx": (".docx",),
    "txt": (".txt", ".text"),
    "md": (".md", ".markdown"),
}
CONTENT_TYPES: dict[FileKind, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain",
    "md": "text/markdown",
}


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


@dataclass(frozen=True)
class Block:
    """A run of text: a heading (``heading_level`` 1-6) or body text (``heading_level`` None)."""

    text: str
    page: int | None = None
    heading_level: int | None = None


@dataclass
class ExtractedDocument:
    kind: FileKind
    blocks: list[Block] = field(default_factory=list)
    page_count: int | None = None

    @property
    def char_count(self) -> int:
        return sum(len(b.text) for b in self.blocks)


# ---------------------------------------------------------------------------------------------
# Content sniffing


_TEXT_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SNIFF_BYTES = 64 * 1024


def _extension(filename: str) -> str:
    return PurePath(filename or "").suffix.lower()


def _kind_for_extension(ext: str) -> FileKind | None:
    for kind, exts in EXTENSIONS.items():
        if ext in exts:
            return kind
    return None


def _looks_like_text(head: bytes) -> bool:
    for bom, _ in _TEXT_BOMS:
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


def _zip_is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "word/document.xml" in names and "[Content_Types].xml" in names


def detect_kind(data: bytes, filename: str) -> FileKind:
    """Decide the kind of ``data`` from its content and check the file name agrees.

    Raises :class:`UnsupportedFileType` for other kinds and for a mismatch (a PDF named
    ``.txt``, a PNG named ``.pdf``). An empty file is classified by its extension alone so
    that it can be recorded and then fail extraction with a clear reason.
    """
    ext = _extension(filename)
    by_ext = _kind_for_extension(ext)
    supported = ", ".join(e for exts in EXTENSIONS.values() for e in exts)
    if not data:
        if by_ext is None:
            raise UnsupportedFileType(
                f"unsupported file type {ext or '(no extension)'}; supported: {supported}"
            )
        return by_ext

    head = data[:_SNIFF_BYTES]
    kind: FileKind | None
    if b"%PDF-" in head[:1024]:
        kind = "pdf"
    elif head.startswith(b"PK\x03\x04"):
        if not _zip_is_docx(data):
            raise UnsupportedFileType(
                f"the file is a zip archive but not a Word document (.docx); supported: {supported}"
            )
        kind = "docx"
    elif head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise UnsupportedFileType(
            "legacy Word/Office (.doc, .xls) files are not supported; save it as .docx or PDF"
        )
    elif _looks_like_text(head):
        # Plain text and Markdown have the same bytes; the extension tells them apart.
        kind = by_ext if by_ext in ("txt", "md") else "txt"
    else:
        raise UnsupportedFileType(
            f"the content is not a supported document (binary data); supported: {supported}"
        )

    if ext and by_ext is None:
        raise UnsupportedFileType(f"unsupported file type {ext}; supported: {supported}")
    if by_ext is not None and by_ext != kind:
        raise UnsupportedFileType(
            f"the file is named {ext} but its content is {kind.upper()}; "
            "rename it or upload the right file"
        )
    return kind


# ---------------------------------------------------------------------------------------------
# Extraction


def extract(
    data: bytes, filename: str, limits: ExtractionLimits | None = None
) -> ExtractedDocument:
    """Extract the text of ``data`` (named ``filename``) as blocks.

    Raises :class:`UnsupportedFileType` or :class:`ExtractionFailed`.
    """
    limits = limits or ExtractionLimits()
    kind = detect_kind(data, filename)
    if not data:
        raise ExtractionFailed("the file is empty (0 bytes)")
    if kind == "pdf":
        doc = _extract_pdf(data, limits)
    elif kind == "docx":
        doc = _extract_docx(data, limits)
    else:
        text = _decode_text(data)
        doc = ExtractedDocument(
            kind=kind, blocks=_markdown_blocks(text) if kind == "md" else _paragraph_blocks(text)
        )
    if not any(b.text.strip() for b in doc.blocks):
        if kind == "pdf":
            raise ExtractionFailed("no extractable text (scanned?)")
        raise ExtractionFailed("the document contains no text")
    return doc


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # Form feeds and other page separators become paragraph breaks; trailing spaces go.
    text = text.replace("\f", "\n\n").replace("\u00ad", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _extract_pdf(data: bytes, limits: ExtractionLimits) -> ExtractedDocument:
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
        blocks: list[Block] = []
        for index in range(page_count):
            try:
                page = pdf[index]
                textpage = page.get_textpage()
                raw = textpage.get_text_range()
                textpage.close()
                page.close()
            except pdfium.PdfiumError as exc:
                raise ExtractionFailed(
                    f"page {index + 1} of the PDF is damaged and cannot be read ({exc})"
                ) from exc
            blocks.extend(pdf_page_blocks(_normalise(raw), index + 1))
        if not blocks:
            raise ExtractionFailed("no extractable text (scanned?)")
        return ExtractedDocument(kind="pdf", blocks=blocks, page_count=page_count)
    finally:
        pdf.close()


# A PDF has no heading markup: a heading is recognised by shape. Numbered ("2.", "3.1 Scope")
# or a short line without closing punctuation that follows the end of a sentence (or the top
# of the page) and is followed by more text.
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
_SENTENCE_END = re.compile(r"[.!?:;]$")


def _heading_level(line: str, previous: str | None, following: str | None) -> int | None:
    words = line.split()
    if not following or not (1 <= len(words) <= 10) or len(line) > 80:
        return None
    if line[-1] in ".,;:!?" or not (line[0].isupper() or line[0].isdigit()):
        return None
    if previous is not None and not _SENTENCE_END.search(previous):
        return None  # the tail of a wrapped sentence, not a heading
    numbered = _NUMBERED.match(line)
    if numbered:
        return min(numbered.group(1).count(".") + 1, 6)
    # Unnumbered: short ("Cold chain"), or longer with most words capitalised, as titles are.
    capitalised = sum(1 for w in words if w[0].isupper() or not w[0].isalpha())
    return 1 if len(words) <= 6 or capitalised >= len(words) * 0.6 else None


def pdf_page_blocks(text: str, page: int) -> list[Block]:
    """Split one PDF page's text into headings and reflowed paragraphs."""
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            joined = " ".join(paragraph)
            # Words hyphenated across a line break are joined again.
            joined = re.sub(r"(\w)- (\w)", lambda m: m.group(1) + m.group(2), joined)
            blocks.append(Block(text=joined, page=page))
            paragraph.clear()

    lines = [line.strip() for line in text.split("\n")]
    previous: str | None = None
    for i, line in enumerate(lines):
        if not line:
            flush()
            continue
        following = next((n for n in lines[i + 1 :] if n), None)
        level = _heading_level(line, previous, following)
        if level is not None:
            flush()
            blocks.append(Block(text=line, page=page, heading_level=level))
        else:
            paragraph.append(line)
        previous = line
    flush()
    return blocks


def _check_docx_archive(data: bytes, limits: ExtractionLimits) -> None:
    """Refuse zip bombs before python-docx inflates anything.

    The sizes in the zip directory can lie, so every member is inflated once here in a
    streaming way, counting bytes and stopping at the cap.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ExtractionFailed(f"the Word document is damaged ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_docx_members:
            raise ExtractionFailed(
                f"the Word document has {len(infos)} parts (limit {limits.max_docx_members}); "
                "it looks hostile (zip bomb)"
            )
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_docx_uncompressed_bytes:
            raise ExtractionFailed(
                f"the Word document would inflate to {declared // (1024 * 1024)} MB "
                f"(limit {limits.max_docx_uncompressed_bytes // (1024 * 1024)} MB); "
                "it looks like a zip bomb"
            )
        total = 0
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > limits.max_docx_compression_ratio:
                raise ExtractionFailed(
                    f"the Word document part {info.filename} inflates {ratio:.0f}x "
                    f"(limit {limits.max_docx_compression_ratio}x); it looks like a zip bomb"
                )
            try:
                with zf.open(info) as member:
                    while chunk := member.read(1024 * 1024):
                        total += len(chunk)
                        if total > limits.max_docx_uncompressed_bytes:
                            raise ExtractionFailed(
                                "the Word document inflates beyond "
                                f"{limits.max_docx_uncompressed_bytes // (1024 * 1024)} MB; "
                                "it looks like a zip bomb"
                            )
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
                raise ExtractionFailed(f"the Word document is damaged ({exc})") from exc
            except NotImplementedError as exc:
                raise ExtractionFailed(
                    f"the Word document uses an unsupported zip feature ({exc})"
                ) from exc
            except RuntimeError as exc:  # encrypted member
                raise ExtractionFailed(f"the Word document cannot be read ({exc})") from exc


_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def _extract_docx(data: bytes, limits: ExtractionLimits) -> ExtractedDocument:
    _check_docx_archive(data, limits)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds (KeyError, lxml errors, ...)
        raise ExtractionFailed(f"the Word document is damaged and cannot be read ({exc})") from exc

    blocks: list[Block] = []
    try:
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                text = _normalise(item.text)
                if not text:
                    continue
                style = (item.style.name if item.style is not None else "") or ""
                level: int | None = None
                if style.lower() == "title":
                    level = 1
                elif m := _HEADING_STYLE.match(style):
                    level = min(max(int(m.group(1)), 1), 6)
                blocks.append(Block(text=text, heading_level=level))
            elif isinstance(item, Table):
                rows = []
                for row in item.rows:
                    cells = [_normalise(c.text) for c in row.cells]
                    if any(cells):
                        rows.append(" | ".join(cells))
                if rows:
                    blocks.append(Block(text="\n".join(rows)))
    except ExtractionError:
        raise
    except Exception as exc:
        raise ExtractionFailed(f"the Word document is damaged and cannot be read ({exc})") from exc
    return ExtractedDocument(kind="docx", blocks=blocks)


def _decode_text(data: bytes) -> str:
    for bom, encoding in _TEXT_BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ExtractionFailed(f"the text file is not valid {encoding} ({exc})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Legacy single-byte text; cp1252 is what such files usually are.
        return data.decode("cp1252", errors="replace")


def _paragraph_blocks(text: str) -> list[Block]:
    text = _normalise(text)
    return [Block(text=p.strip()) for p in re.split(r"\n\s*\n", text) if p.strip()]


_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_MD_FENCE = re.compile(r"^(```|~~~)")


def _markdown_blocks(text: str) -> list[Block]:
    """Split Markdown into headings (ATX ``#``) and paragraphs, leaving code fences whole."""
    text = _normalise(text)
    blocks: list[Block] = []
    para: list[str] = []
    in_fence = False

    def flush() -> None:
        body = "\n".join(para).strip()
        if body:
            blocks.append(Block(text=body))
        para.clear()

    for line in text.split("\n"):
        if _MD_FENCE.match(line.strip()):
            in_fence = not in_fence
            para.append(line)
            continue
        if in_fence:
            para.append(line)
            continue
        heading = _MD_HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block(text=heading.group(2).strip(), heading_level=len(heading.group(1))))
        elif not line.strip():
            flush()
        else:
            para.append(line)
    flush()
    return blocks
