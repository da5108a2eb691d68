"""The supported formats, how each is recognised from its content, and its extractor.

Adding a format (XLSX, HTML) is one module with an ``extract_<kind>(data, limits)`` function
and one :class:`Format` entry here. The kind of a file is decided from its content (magic
bytes, zip members, text decoding) and the file name's extension must agree, so a renamed image
or a PDF called ``.txt`` is refused as unsupported rather than parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

from phi_core_api.documents.extraction.base import (
    ExtractedDocument,
    ExtractionFailed,
    ExtractionLimits,
    FileKind,
    UnsupportedFileType,
)
from phi_core_api.documents.extraction.docx import extract_docx, zip_is_docx
from phi_core_api.documents.extraction.markdown import extract_markdown
from phi_core_api.documents.extraction.pdf import extract_pdf
from phi_core_api.documents.extraction.text import extract_text, looks_like_text


@dataclass(frozen=True)
class Format:
    kind: FileKind
    extensions: tuple[str, ...]
    content_type: str
    extract: Callable[[bytes, ExtractionLimits], ExtractedDocument]


FORMATS: dict[FileKind, Format] = {
    f.kind: f
    for f in (
        Format("pdf", (".pdf",), "application/pdf", extract_pdf),
        Format(
            "docx",
            (".docx",),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            extract_docx,
        ),
        Format("txt", (".txt", ".text"), "text/plain", extract_text),
        Format("md", (".md", ".markdown"), "text/markdown", extract_markdown),
    )
}
EXTENSIONS: dict[FileKind, tuple[str, ...]] = {k: f.extensions for k, f in FORMATS.items()}
CONTENT_TYPES: dict[FileKind, str] = {k: f.content_type for k, f in FORMATS.items()}

_SNIFF_BYTES = 64 * 1024


def _extension(filename: str) -> str:
    return PurePath(filename or "").suffix.lower()


def _kind_for_extension(ext: str) -> FileKind | None:
    for kind, exts in EXTENSIONS.items():
        if ext in exts:
            return kind
    return None


def detect_kind(data: bytes | BinaryIO, filename: str) -> FileKind:
    """Decide the kind of ``data`` from its content and check the file name agrees.

    ``data`` may be a seekable file (an upload being streamed to storage): only its first
    bytes are read, and its zip directory for a .docx; it is left at its start.

    Raises :class:`UnsupportedFileType` for other kinds and for a mismatch (a PDF named
    ``.txt``, a PNG named ``.pdf``). An empty file is classified by its extension alone so
    that it can be recorded and then fail extraction with a clear reason.
    """
    ext = _extension(filename)
    by_ext = _kind_for_extension(ext)
    supported = ", ".join(e for exts in EXTENSIONS.values() for e in exts)
    if isinstance(data, bytes):
        head = data[:_SNIFF_BYTES]
    else:
        data.seek(0)
        head = data.read(_SNIFF_BYTES)
        data.seek(0)
    if not head:
        if by_ext is None:
            raise UnsupportedFileType(
                f"unsupported file type {ext or '(no extension)'}; supported: {supported}"
            )
        return by_ext

    kind: FileKind | None
    if b"%PDF-" in head[:1024]:
        kind = "pdf"
    elif head.startswith(b"PK\x03\x04"):
        is_docx = zip_is_docx(data)
        if not isinstance(data, bytes):
            data.seek(0)
        if not is_docx:
            raise UnsupportedFileType(
                f"the file is a zip archive but not a Word document (.docx); supported: {supported}"
            )
        kind = "docx"
    elif head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise UnsupportedFileType(
            "legacy Word/Office (.doc, .xls) files are not supported; save it as .docx or PDF"
        )
    elif looks_like_text(head):
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
    doc = FORMATS[kind].extract(data, limits)
    if not any(b.text.strip() for b in doc.blocks):
        if kind == "pdf":
            raise ExtractionFailed("no extractable text (scanned?)")
        raise ExtractionFailed("the document contains no text")
    return doc
