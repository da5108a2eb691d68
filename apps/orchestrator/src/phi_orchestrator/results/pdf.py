"""A result as a PDF: the same HTML as the email, laid out by WeasyPrint, charts as PNG.

WeasyPrint was measured against fpdf2 on the daily report (docs/benchmarks.md, "Report charts
and PDF"): fpdf2 is faster and pure Python but ignores the stylesheet (tables without borders,
headings unstyled); WeasyPrint lays out the email's HTML as it is. It needs the system's Pango.
"""

from __future__ import annotations

import base64

from phi_orchestrator.results.chart_images import chart_png
from phi_orchestrator.results.document import ResultDocument
from phi_orchestrator.results.html import result_html

PAGE_CSS = "@page { size: A4; margin: 14mm 12mm; } .wrap { max-width: none; padding: 0; }"


def result_pdf(doc: ResultDocument) -> bytes:
    """The document as PDF bytes (blocking: run it in a thread)."""
    import weasyprint

    images = {
        c.id: base64.b64encode(chart_png(c, width_px=960, height_px=450, dpi=150)).decode()
        for c in doc.charts
    }
    html = result_html(
        title=doc.title,
        summary=doc.summary,
        anomalies=doc.anomalies,
        charts=doc.charts,
        image_src=lambda c: f"data:image/png;base64,{images[c.id]}",
        report_md=doc.report_md,
        link=doc.link,
    )
    html = html.replace("</style>", PAGE_CSS + "</style>", 1)
    # The HTML holds nothing to fetch but its data: images; nothing else may be fetched.
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()  # type: ignore[no-any-return]
