from __future__ import annotations

import pytest
from document_files import (
    make_blank_pages_pdf,
    make_docx,
    make_docx_bomb,
    make_pdf,
    make_png,
    make_scanned_pdf,
)

from phi_core_api.documents.extraction import (
    ExtractionFailed,
    ExtractionLimits,
    UnsupportedFileType,
    detect_kind,
    extract,
)


def test_pdf_pages_keep_their_text_and_numbers() -> None:
    data = make_pdf(
        [
            ["Receiving", "Check every pallet label against the advance shipping notice."],
            ["Cold chain", "Chilled goods must be moved to the cold room within 20 minutes."],
            ["Incidents", "Report a forklift incident to the shift supervisor at once."],
        ]
    )
    doc = extract(data, "sop.pdf")
    assert doc.kind == "pdf"
    assert doc.page_count == 3
    # Each page: its heading (recognised by shape) then its paragraph.
    assert [(b.page, b.heading_level) for b in doc.blocks] == [
        (1, 1),
        (1, None),
        (2, 1),
        (2, None),
        (3, 1),
        (3, None),
    ]
    assert [b.text for b in doc.blocks if b.heading_level] == [
        "Receiving",
        "Cold chain",
        "Incidents",
    ]
    assert "cold room within 20 minutes" in doc.blocks[3].text
    assert "forklift incident" not in doc.blocks[3].text


def test_pdf_lines_are_reflowed_and_headings_recognised_by_shape() -> None:
    from phi_core_api.documents.extraction import pdf_page_blocks

    text = (
        "2.1 Cycle counting\n"
        "Every morning the analyst compares the cycle count with the system stock. Any\n"
        "discrepancy above two percent is escalated to the operations manager before 10:00 and\n"
        "logged in the WMS.\n"
        "Forklift Safety\n"
        "Only certified drivers may operate forklifts; pedestrians stay behind the yellow\n"
        "lines at all times and wear high-visi-\n"
        "bility vests."
    )
    blocks = pdf_page_blocks(text, 4)
    assert [(b.heading_level, b.text[:20]) for b in blocks] == [
        (2, "2.1 Cycle counting"),
        (None, "Every morning the an"),
        (1, "Forklift Safety"),
        (None, "Only certified drive"),
    ]
    # Wrapped lines are one paragraph again; a line ending mid-sentence is never a heading.
    assert "Any discrepancy above two percent" in blocks[1].text
    assert "high-visibility vests." in blocks[3].text
    assert all(b.page == 4 for b in blocks)


def test_pdf_without_text_layer_fails_as_scanned() -> None:
    with pytest.raises(ExtractionFailed, match=r"no extractable text \(scanned\?\)"):
        extract(make_scanned_pdf(), "scan.pdf")


def test_broken_pdf_fails_with_reason() -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 40
    with pytest.raises(ExtractionFailed, match="damaged"):
        extract(data, "broken.pdf")


def test_truncated_pdf_is_damaged_or_readable_but_never_crashes() -> None:
    data = make_pdf([["Title", "Some body text that is long enough to matter."]] * 3)
    truncated = data[: len(data) // 3]
    try:
        doc = extract(truncated, "cut.pdf")
    except ExtractionFailed as exc:
        assert exc.reason
    else:
        assert doc.blocks


def test_page_count_cap() -> None:
    data = make_blank_pages_pdf(12)
    assert extract(data, "ok.pdf", ExtractionLimits(max_pages=12)).page_count == 12
    with pytest.raises(ExtractionFailed, match="12 pages; the limit is 10"):
        extract(data, "many.pdf", ExtractionLimits(max_pages=10))


def test_empty_file_fails() -> None:
    assert detect_kind(b"", "empty.pdf") == "pdf"
    with pytest.raises(ExtractionFailed, match="empty"):
        extract(b"", "empty.pdf")
    with pytest.raises(ExtractionFailed, match="empty"):
        extract(b"", "empty.txt")


def test_docx_headings_paragraphs_and_tables_in_order() -> None:
    data = make_docx(
        [
            ("h1", "Safety policy"),
            ("p", "Hard hats are required in every aisle."),
            ("h2", "Forklifts"),
            ("p", "Only certified drivers may operate a forklift."),
        ],
        table=[["Zone", "Speed limit"], ["Dock", "5 km/h"]],
    )
    doc = extract(data, "policy.docx")
    assert doc.kind == "docx"
    assert [(b.heading_level, b.text) for b in doc.blocks] == [
        (1, "Safety policy"),
        (None, "Hard hats are required in every aisle."),
        (2, "Forklifts"),
        (None, "Only certified drivers may operate a forklift."),
        (None, "Zone | Speed limit\nDock | 5 km/h"),
    ]


def test_docx_zip_bomb_is_refused_before_parsing() -> None:
    data = make_docx_bomb(inflated_bytes=24 * 1024 * 1024)
    assert len(data) < 200 * 1024
    limits = ExtractionLimits(max_docx_uncompressed_bytes=16 * 1024 * 1024)
    with pytest.raises(ExtractionFailed, match="zip bomb"):
        extract(data, "bomb.docx", limits)


def test_docx_ratio_cap_catches_a_member_within_the_size_cap() -> None:
    data = make_docx_bomb(inflated_bytes=8 * 1024 * 1024)
    with pytest.raises(ExtractionFailed, match=r"inflates \d+x"):
        extract(data, "bomb.docx", ExtractionLimits(max_docx_compression_ratio=100))


def test_corrupt_docx_fails_with_reason() -> None:
    data = make_docx([("p", "text")])
    # Keep the zip valid but break document.xml.
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "word/document.xml":
                body = body[: len(body) // 2]
            dst.writestr(info, body)
    with pytest.raises(ExtractionFailed, match="damaged"):
        extract(buf.getvalue(), "broken.docx")


def test_markdown_headings_and_code_fences() -> None:
    text = (
        "# Returns\n\nCustomers may return goods within 30 days.\n\n"
        "## Damaged goods\n\nPhotograph the damage.\n\n```\n# not a heading\n```\n"
    )
    doc = extract(text.encode(), "returns.md")
    assert [(b.heading_level, b.text) for b in doc.blocks] == [
        (1, "Returns"),
        (None, "Customers may return goods within 30 days."),
        (2, "Damaged goods"),
        (None, "Photograph the damage."),
        (None, "```\n# not a heading\n```"),
    ]


def test_text_encodings() -> None:
    assert extract("Größe: 5 m²".encode("utf-16"), "a.txt").blocks[0].text == "Größe: 5 m²"
    assert extract("café\r\n\r\nnaïve".encode("cp1252"), "b.txt").blocks[1].text == "naïve"
    assert extract(b"\xef\xbb\xbfBOM text", "c.txt").blocks[0].text == "BOM text"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (make_png(), "photo.pdf", "binary"),
        (make_png(), "photo.png", "binary"),
        (b"plain words", "notes.pdf", "named .pdf but its content is TXT"),
        (b"plain words", "run.exe", "unsupported file type .exe"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old.doc", "legacy"),
    ],
)
def test_unsupported_or_mislabelled(data: bytes, name: str, message: str) -> None:
    with pytest.raises(UnsupportedFileType, match=message):
        detect_kind(data, name)


def test_pdf_named_txt_and_zip_named_docx_are_mislabelled() -> None:
    with pytest.raises(UnsupportedFileType, match="named .txt but its content is PDF"):
        detect_kind(make_pdf([["a", "b"]]), "notes.txt")
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedFileType, match="not a Word document"):
        detect_kind(buf.getvalue(), "report.docx")


def test_kind_comes_from_content() -> None:
    assert detect_kind(make_pdf([["a", "b"]]), "report.pdf") == "pdf"
    assert detect_kind(make_docx([("p", "x")]), "report.DOCX") == "docx"
    assert detect_kind(b"# Title", "readme.md") == "md"
    assert detect_kind(b"hello", "notes") == "txt"
