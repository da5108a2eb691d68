"""Builders for real test documents (PDF via reportlab, DOCX via python-docx)."""

from __future__ import annotations

import io
import zipfile


def make_pdf(pages: list[list[str]], *, headings: bool = True) -> bytes:
    """A PDF with one page per item of ``pages``; the first string of a page is its heading."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    buf = io.BytesIO()
    story = []
    for i, paragraphs in enumerate(pages):
        if i:
            story.append(PageBreak())
        for j, text in enumerate(paragraphs):
            style = styles["Heading1"] if headings and j == 0 else styles["BodyText"]
            story.append(Paragraph(text, style))
    SimpleDocTemplate(buf, pagesize=A4).build(story)
    return buf.getvalue()


def make_scanned_pdf(n_pages: int = 2) -> bytes:
    """A PDF whose pages carry only drawings (as a scan would: no text layer)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for _ in range(n_pages):
        c.rect(50, 50, 400, 600, fill=1)
        c.circle(200, 400, 50)
        c.showPage()
    c.save()
    return buf.getvalue()


def make_blank_pages_pdf(n_pages: int) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for i in range(n_pages):
        c.drawString(72, 720, f"page {i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def make_docx(items: list[tuple[str, str]], table: list[list[str]] | None = None) -> bytes:
    """A DOCX from (style, text) items; style 'h1'..'h3' for headings, 'p' for body text."""
    import docx

    document = docx.Document()
    for style, text in items:
        if style.startswith("h"):
            document.add_heading(text, level=int(style[1:]))
        else:
            document.add_paragraph(text)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def make_docx_bomb(inflated_bytes: int) -> bytes:
    """A valid DOCX with an extra member of zeros that inflates to ``inflated_bytes``."""
    base = make_docx([("p", "harmless text")])
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as src,
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        with dst.open("word/media/bomb.bin", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(inflated_bytes // len(block)):
                member.write(block)
    return buf.getvalue()


def make_png() -> bytes:
    """Bytes of a tiny PNG (only its signature and header matter for sniffing)."""
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
        b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00"
        b"\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
    )
