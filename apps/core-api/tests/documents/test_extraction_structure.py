"""Extraction keeps a document's structure: headings, list items and paragraphs, from the fonts
and positions a PDF gives, Word styles and numbering, Markdown and plain-text lists; and it is
bounded (characters kept, DOCX read as a stream)."""

from __future__ import annotations

import io
import zipfile

import pytest
from document_files import make_docx

from phi_core_api.documents.extraction import ExtractionFailed, ExtractionLimits, extract


def _jd_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    items = [
        "Plan the daily trunking routes in the transport management system (Mandata) before "
        "15:00 and confirm the driver allocation with the shift lead.",
        "Review the driver hours report every Monday and act on every infringement.",
        "Keep the vehicle defect log current.",
    ]
    story = [
        Paragraph(
            "Transport Manager Job Description and Operating Procedure for Night Trunking",
            styles["Title"],
        ),
        Paragraph("Location: Leeds depot. Reports to: Head of Operations.", body),
        Paragraph("Key responsibilities", styles["Heading2"]),
        ListFlowable([ListItem(Paragraph(t, body)) for t in items], bulletType="bullet"),
        Paragraph("Appendix A - KPIs and escalation contacts", styles["Heading2"]),
        Paragraph("Targets: on-time delivery 98%, infringements below 2 per 100 shifts.", body),
        Paragraph("<b>Escalation</b>", body),
        Paragraph("Call the duty manager on 0113 555 0100.", body),
    ]
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4).build(story)
    return buf.getvalue()


def test_pdf_headings_by_font_size_list_items_and_wrapped_title() -> None:
    doc = extract(_jd_pdf(), "jd.pdf")
    shape = [(b.heading_level, b.list_item, b.text[:30]) for b in doc.blocks]
    assert shape == [
        (1, False, "Transport Manager Job Descript"),  # two lines, one heading
        (None, False, "Location: Leeds depot. Reports"),
        (2, False, "Key responsibilities"),
        (None, True, "• Plan the daily trunking rout"),
        (None, True, "• Review the driver hours repo"),
        (None, True, "• Keep the vehicle defect log "),
        (2, False, "Appendix A - KPIs and escalati"),
        (None, False, "Targets: on-time delivery 98%,"),
        (3, False, "Escalation"),  # bold at the body size: a heading below the others
        (None, False, "Call the duty manager on 0113 "),
    ]
    assert doc.blocks[0].text.endswith("for Night Trunking")
    # A list item wrapped over two lines is one block, the heading does not run into the body.
    assert doc.blocks[3].text.endswith("with the shift lead.")
    assert doc.blocks[6].text == "Appendix A - KPIs and escalation contacts"


def test_pdf_page_set_in_one_font_falls_back_to_shapes_with_list_items() -> None:
    from phi_core_api.documents.extraction import pdf_page_blocks

    text = (
        "Duties\n"
        "The coordinator:\n"
        "- books the engineers for planned maintenance and confirms\n"
        "the slots with production;\n"
        "- keeps the spares log.\n"
        "Every request is answered within a day."
    )
    blocks = pdf_page_blocks(text, 1)
    assert [(b.heading_level, b.list_item, b.text) for b in blocks] == [
        (1, False, "Duties"),
        (None, False, "The coordinator:"),
        (
            None,
            True,
            "- books the engineers for planned maintenance and confirms the slots with production;",
        ),
        (None, True, "- keeps the spares log."),
        (None, False, "Every request is answered within a day."),
    ]


def test_docx_list_items_from_numbering_and_title_style() -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Maintenance Coordinator", style="Title")
    document.add_heading("Duties", level=1)
    document.add_paragraph("Book engineers for planned maintenance.", style="List Bullet")
    document.add_paragraph("Keep the spares log.", style="List Number")
    document.add_paragraph("Anything else goes to the plant manager.")
    buf = io.BytesIO()
    document.save(buf)
    doc = extract(buf.getvalue(), "jd.docx")
    assert [(b.heading_level, b.list_item, b.text) for b in doc.blocks] == [
        (1, False, "Maintenance Coordinator"),
        (1, False, "Duties"),
        (None, True, "- Book engineers for planned maintenance."),
        (None, True, "- Keep the spares log."),
        (None, False, "Anything else goes to the plant manager."),
    ]


def test_markdown_lists_through_markdown_it() -> None:
    text = (
        "# Night audit\n\nThe auditor:\n\n"
        "1. closes the day in the PMS at 02:00;\n"
        "2. checks every room rate against\n   the rate plan.\n\n"
        "- Nested:\n  - keep the cash float at 200 EUR\n\n"
        "| Report | Due |\n|---|---|\n| Flash | 07:00 |\n"
    )
    doc = extract(text.encode(), "audit.md")
    assert [(b.heading_level, b.list_item, b.text) for b in doc.blocks] == [
        (1, False, "Night audit"),
        (None, False, "The auditor:"),
        (None, True, "1. closes the day in the PMS at 02:00;"),
        (None, True, "2. checks every room rate against\nthe rate plan."),
        (None, True, "- Nested:"),
        (None, True, "- keep the cash float at 200 EUR"),
        (None, False, "| Report | Due |\n|---|---|\n| Flash | 07:00 |"),
    ]


def test_plain_text_lists_and_title_lines() -> None:
    text = (
        "Claims follow-up\n\nEvery denied claim is worked within 5 days.\n\n"
        "Steps:\n* read the denial code\n* correct and resubmit\nthrough the clearinghouse\n"
    )
    doc = extract(text.encode(), "claims.txt")
    assert [(b.heading_level, b.list_item, b.text) for b in doc.blocks] == [
        (1, False, "Claims follow-up"),
        (None, False, "Every denied claim is worked within 5 days."),
        (None, False, "Steps:"),
        (None, True, "* read the denial code"),
        (None, True, "* correct and resubmit through the clearinghouse"),
    ]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (("All work and no play. " * 100).encode(), "long.txt"),
        (("All work and no play. " * 100).encode(), "long.md"),
        (make_docx([("p", "All work and no play. " * 100)]), "long.docx"),
        (None, "long.pdf"),
    ],
)
def test_more_text_than_the_limit_fails_with_the_limit(data: bytes | None, name: str) -> None:
    if data is None:
        from document_files import make_pdf

        data = make_pdf([["Title", "All work and no play. " * 60]] * 2)
    limits = ExtractionLimits(max_chars=1000)
    with pytest.raises(ExtractionFailed, match="more than 1,000 characters of text"):
        extract(data, name, limits)
    assert extract(data, name, ExtractionLimits(max_chars=10_000)).char_count > 1000


def _docx_with_many_paragraphs(paragraphs: int) -> bytes:
    """A DOCX whose document.xml holds ``paragraphs`` paragraphs, written as a stream."""
    base = make_docx([("p", "x")])
    buf = io.BytesIO()
    para = (
        b"<w:p><w:r><w:t>Every pallet is checked against the advance shipping notice "
        b"before it is put away.</w:t></w:r></w:p>"
    )
    with (
        zipfile.ZipFile(io.BytesIO(base)) as src,
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            body = src.read(info)
            if info.filename != "word/document.xml":
                dst.writestr(info, body)
                continue
            head, tail = body.split(b"<w:body>")
            with dst.open("word/document.xml", "w", force_zip64=True) as member:
                member.write(head + b"<w:body>")
                for _ in range(paragraphs // 1000):
                    member.write(para * 1000)
                member.write(tail)
    return buf.getvalue()


# Peak memory is read from VmHWM, the high-water mark of the process's own address space.
# ru_maxrss is not usable here: Linux carries the pre-exec peak across exec, so a child
# started from a big pytest process reports at least the parent's size (509 MB inside the
# full run for a stream that peaks at ~225 MB on its own).
_PEAK_KB = (
    "def peak_kb():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1])\n"
)


def test_large_docx_is_read_as_a_stream() -> None:
    import subprocess
    import sys
    import tempfile

    # ~24 MB of XML; read in a fresh process so its peak memory is its own.
    data = _docx_with_many_paragraphs(200_000)
    with tempfile.NamedTemporaryFile(suffix=".docx") as f:
        f.write(data)
        f.flush()
        code = _PEAK_KB + (
            "import sys\n"
            "from phi_core_api.documents.extraction import extract, ExtractionLimits\n"
            "doc = extract(open(sys.argv[1], 'rb').read(), 'big.docx',"
            " ExtractionLimits(max_chars=100_000_000, max_docx_compression_ratio=10**6))\n"
            "print(len(doc.blocks), peak_kb())\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, f.name], capture_output=True, text=True, check=True
        ).stdout.split()
        # The baseline in the same run: the same document parsed into a whole tree.
        tree_code = _PEAK_KB + (
            "import sys, zipfile\n"
            "from lxml import etree\n"
            "xml = zipfile.ZipFile(sys.argv[1]).read('word/document.xml')\n"
            "root = etree.fromstring(xml)\n"
            "texts = [t.text for t in root.iter() if t.text]\n"
            "print(len(texts), peak_kb())\n"
        )
        tree = subprocess.run(
            [sys.executable, "-c", tree_code, f.name], capture_output=True, text=True, check=True
        ).stdout.split()
    assert int(out[0]) == 200_001
    # Streaming keeps the blocks (~30 MB of Python objects) but never the parsed tree, which
    # takes several times the XML (measured: stream 75 MB, tree 185 MB); absolute peaks vary
    # by machine.
    stream_kb, tree_kb = int(out[1]), int(tree[1])
    assert stream_kb < 0.7 * tree_kb, f"stream {stream_kb // 1024} MB, tree {tree_kb // 1024} MB"
