"""Turn an uploaded file into text blocks (headings, list items, paragraphs, tables; with pages)
that can be chunked. One module a format (``pdf``, ``docx``, ``text``, ``markdown``); the
``registry`` says which formats exist and how each is recognised.

Hostile input is refused with :class:`ExtractionFailed` carrying a sentence a person can act
on: empty file, damaged or encrypted PDF, too many pages, a DOCX whose members inflate beyond a
cap (zip bomb), more text than ``ExtractionLimits.max_chars``, and a document with no text
layer ("no extractable text (scanned?)").
"""

from phi_core_api.documents.extraction.base import (
    Block,
    ExtractedDocument,
    ExtractionError,
    ExtractionFailed,
    ExtractionLimits,
    FileKind,
    UnsupportedFileType,
)
from phi_core_api.documents.extraction.pdf import pdf_page_blocks
from phi_core_api.documents.extraction.registry import (
    CONTENT_TYPES,
    EXTENSIONS,
    FORMATS,
    detect_kind,
    extract,
)

__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "FORMATS",
    "Block",
    "ExtractedDocument",
    "ExtractionError",
    "ExtractionFailed",
    "ExtractionLimits",
    "FileKind",
    "UnsupportedFileType",
    "detect_kind",
    "extract",
    "pdf_page_blocks",
]
