"""Compare PDF text extraction libraries on speed and text quality.

Generates multi-page PDFs with reportlab whose exact text is known (headings, justified
paragraphs, accented words, a two-column page), extracts them with each candidate and reports
pages/second and a word-level similarity to the ground truth (difflib ratio over the word
sequence of each page, 1.0 = identical words in identical order).

    python bench/pdf_extraction.py [--pages 200] [--repeat 3] [--smoke]

Candidates that are not installed are skipped. Licences matter for a hosted product:
pypdfium2 (Apache-2.0 / BSD-3), pypdf (BSD-3), pdfminer.six (MIT), PyMuPDF (AGPL-3.0 or
commercial).
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import random
import re
import statistics
import time
from collections.abc import Callable

from bench_db import smoke_argument

WORDS = (
    "forklift pallet dock inventory shipment carrier receiving picking packing safety "
    "inspection supervisor shift report variance cycle count aisle rack barcode scanner "
    "temperature cold chain hazard incident escalation procedure approval manager warehouse "
    "loading unloading label customs invoice café naïve Müller façade señor Ångström "
    "the a of to and in for on with by is are must should never always each every"
).split()


def make_pages(n_pages: int, seed: int = 7) -> list[list[tuple[str, str]]]:
    """Per page, a list of (style, text) with style in {'h', 'p'}."""
    rng = random.Random(seed)
    pages = []
    for p in range(n_pages):
        items: list[tuple[str, str]] = [
            ("h", f"Section {p + 1}: {rng.choice(WORDS).title()} procedure")
        ]
        for _ in range(4):
            sentences = []
            for _ in range(rng.randint(3, 5)):
                words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
                sentences.append(" ".join(words).capitalize() + ".")
            items.append(("p", " ".join(sentences)))
        pages.append(items)
    return pages


def build_pdf(pages: list[list[tuple[str, str]]]) -> bytes:
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.platypus import (
        BaseDocTemplate,
        Flowable,
        Frame,
        PageBreak,
        PageTemplate,
        Paragraph,
    )

    class PlacedWords(Flowable):
        """Words drawn one by one at computed positions, with no space characters in the
        content stream: the extractor has to infer word breaks from the gaps, as it must
        for many PDFs produced by design tools."""

        def __init__(self, text: str, width: float) -> None:
            super().__init__()
            self.text, self.avail = text, width
            self.lines: list[list[str]] = []

        def wrap(self, aw: float, ah: float) -> tuple[float, float]:
            from reportlab.pdfbase.pdfmetrics import stringWidth

            self.lines, line, x = [], [], 0.0
            for w in self.text.split():
                ww = stringWidth(w, "Helvetica", 10) + 4
                if x + ww > aw and line:
                    self.lines.append(line)
                    line, x = [], 0.0
                line.append(w)
                x += ww
            if line:
                self.lines.append(line)
            return aw, 13 * len(self.lines) + 6

        def draw(self) -> None:
            from reportlab.pdfbase.pdfmetrics import stringWidth

            c = self.canv
            c.setFont("Helvetica", 10)
            y = 13 * len(self.lines)
            for line in self.lines:
                x = 0.0
                for w in line:
                    c.drawString(x, y, w)
                    x += stringWidth(w, "Helvetica", 10) + 4
                y -= 13

    styles = getSampleStyleSheet()
    justified = ParagraphStyle("justified", parent=styles["BodyText"], alignment=TA_JUSTIFY)
    buf = io.BytesIO()
    doc = BaseDocTemplate(buf, pagesize=A4)
    w, h = A4
    one = Frame(50, 50, w - 100, h - 100, id="one")
    left = Frame(50, 50, (w - 110) / 2, h - 100, id="left")
    right = Frame(60 + (w - 110) / 2, 50, (w - 110) / 2, h - 100, id="right")
    doc.addPageTemplates([PageTemplate("one", [one]), PageTemplate("two", [left, right])])
    story = []
    from reportlab.platypus import NextPageTemplate

    for i, items in enumerate(pages):
        # Every tenth page is set in two columns: reading order is part of text quality.
        story.append(NextPageTemplate("two" if i % 10 == 9 else "one"))
        if i:
            story.append(PageBreak())
        for j, (style, text) in enumerate(items):
            if style == "h":
                story.append(Paragraph(text, styles["Heading2"]))
            elif i % 5 == 2 and j == 1:
                story.append(PlacedWords(text, w - 100))
            else:
                story.append(Paragraph(text, justified if j % 2 else styles["BodyText"]))
    doc.build(story)
    return buf.getvalue()


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def ex_pypdfium2(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    out = []
    for i in range(len(pdf)):
        page = pdf[i]
        tp = page.get_textpage()
        out.append(tp.get_text_range())
        tp.close()
        page.close()
    pdf.close()
    return out


def ex_pypdf(data: bytes) -> list[str]:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    return [p.extract_text() or "" for p in reader.pages]


def ex_pymupdf(data: bytes) -> list[str]:
    import pymupdf

    doc = pymupdf.open(stream=data, filetype="pdf")
    out = [page.get_text() for page in doc]
    doc.close()
    return out


def ex_pdfminer(data: bytes) -> list[str]:
    from pdfminer.high_level import extract_text

    text = extract_text(io.BytesIO(data))
    return text.split("\f")


CANDIDATES: dict[str, tuple[Callable[[bytes], list[str]], str]] = {
    "pypdfium2": (ex_pypdfium2, "Apache-2.0/BSD-3"),
    "pymupdf": (ex_pymupdf, "AGPL-3.0"),
    "pypdf": (ex_pypdf, "BSD-3"),
    "pdfminer.six": (ex_pdfminer, "MIT"),
}


def quality(truth_pages: list[list[tuple[str, str]]], got_pages: list[str]) -> float:
    scores = []
    for i, items in enumerate(truth_pages):
        truth = words(" ".join(t for _, t in items))
        got = words(got_pages[i]) if i < len(got_pages) else []
        scores.append(difflib.SequenceMatcher(None, truth, got, autojunk=False).ratio())
    return statistics.mean(scores)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    smoke_argument(ap)
    args = ap.parse_args()
    if args.smoke:
        args.pages, args.repeat = 3, 1

    pages = make_pages(args.pages)
    data = build_pdf(pages)
    print(f"cores: {os.cpu_count()}  pages: {args.pages}  pdf size: {len(data) / 1024:.0f} KiB")
    print(f"{'library':<14}{'licence':<18}{'pages/s':>10}{'ms/page':>10}{'quality':>10}")
    for name, (fn, licence) in CANDIDATES.items():
        try:
            fn(make_small := build_pdf(pages[:1]))  # import + warm-up
        except ImportError:
            print(f"{name:<14}{licence:<18}{'not installed':>30}")
            continue
        del make_small
        times = []
        got: list[str] = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            got = fn(data)
            times.append(time.perf_counter() - t0)
        best = min(times)
        print(
            f"{name:<14}{licence:<18}{args.pages / best:>10.0f}{best * 1000 / args.pages:>10.2f}"
            f"{quality(pages, got):>10.3f}"
        )


if __name__ == "__main__":
    main()
