"""A result as one HTML document, for the email's HTML part and the PDF.

The report's Markdown goes through markdown-it-py (CommonMark plus tables) with raw HTML off,
so text from the customer's data or a model can never become markup. Styles are inline-light
(one <style> block with simple selectors) because mail clients drop most CSS.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from markdown_it import MarkdownIt

from phi_orchestrator.results.spec import Chart

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; color: #0f172a; font-size: 14px;
       line-height: 1.45; margin: 0; padding: 0; }
.wrap { max-width: 760px; margin: 0 auto; padding: 16px; }
h1 { font-size: 20px; margin: 0 0 8px; }
h2 { font-size: 16px; margin: 20px 0 6px; border-bottom: 1px solid #e2e8f0; }
h3 { font-size: 14px; margin: 14px 0 4px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12px; }
th, td { border: 1px solid #e2e8f0; padding: 3px 6px; text-align: left; }
th { background: #f1f5f9; }
.summary { background: #f8fafc; border: 1px solid #e2e8f0; padding: 10px 12px; }
.anomalies { color: #b91c1c; }
.chart { margin: 10px 0; }
.chart img { width: 100%; max-width: 640px; height: auto; }
.note { color: #64748b; font-size: 12px; }
a.button { display: inline-block; background: #0284c7; color: #ffffff; padding: 8px 14px;
           border-radius: 6px; text-decoration: none; }
"""


def markdown_html(source: str) -> str:
    """The report's Markdown as HTML (raw HTML in it is shown as text)."""
    return _md.render(source)


def result_html(
    *,
    title: str,
    summary: str,
    anomalies: list[str],
    charts: list[Chart],
    image_src: Callable[[Chart], str],
    report_md: str,
    link: str | None,
) -> str:
    """The whole document. ``image_src`` gives each chart's image address (``cid:...`` in an
    email, a ``data:`` URI in the PDF)."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><div class='wrap'>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='summary'>{escape(summary)}</p>",
    ]
    if anomalies:
        parts.append("<p class='anomalies'><strong>Anomalies:</strong> ")
        parts.append(escape("; ".join(anomalies)) + "</p>")
    if link:
        parts.append(
            f"<p><a class='button' href='{escape(link, quote=True)}'>Open the task</a></p>"
        )
    for chart in charts:
        parts.append(
            f"<div class='chart'><img src='{escape(image_src(chart), quote=True)}' "
            f"alt='{escape(chart.title, quote=True)}'>"
        )
        if chart.note:
            parts.append(f"<div class='note'>{escape(chart.note)}</div>")
        parts.append("</div>")
    parts.append(markdown_html(report_md))
    if link:
        parts.append(f"<p class='note'>Task: <a href='{escape(link, quote=True)}'>")
        parts.append(f"{escape(link)}</a></p>")
    parts.append("</div></body></html>")
    return "".join(parts)
