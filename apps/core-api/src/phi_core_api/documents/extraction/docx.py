"""Word (.docx): paragraphs, headings (by style or outline level), list items (numbered
paragraphs) and tables, in document order.

The body is read as a stream (lxml ``iterparse`` over ``word/document.xml``), each paragraph
or table released once read, so memory stays flat however large the XML is; python-docx would
build the whole tree first (a DOCX with 190 MB of XML took a worker to 1.7 GB). Before that the
archive is checked against zip bombs, inflating every member once in a streaming way.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import IO, Any, BinaryIO

from phi_core_api.documents.extraction.base import (
    Block,
    BlockSink,
    ExtractedDocument,
    ExtractionError,
    ExtractionFailed,
    ExtractionLimits,
    normalise,
)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def zip_is_docx(data: bytes | BinaryIO) -> bool:
    """Whether the zip archive (bytes, or a seekable file read from its start) is a .docx."""
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "word/document.xml" in names and "[Content_Types].xml" in names


def check_archive(zf: zipfile.ZipFile, limits: ExtractionLimits) -> None:
    """Refuse zip bombs before anything is parsed.

    The sizes in the zip directory can lie, so every member is inflated once here in a
    streaming way, counting bytes and stopping at the cap.
    """
    cap_mb = limits.max_docx_uncompressed_bytes // (1024 * 1024)
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
            f"(limit {cap_mb} MB); it looks like a zip bomb"
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
                            f"the Word document inflates beyond {cap_mb} MB; "
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


def _styles(zf: zipfile.ZipFile) -> dict[str, tuple[int | None, bool]]:
    """Style id -> (heading level or None, is a list style), following ``basedOn``."""
    from lxml import etree

    try:
        raw = zf.read("word/styles.xml")
    except KeyError:
        return {}
    root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, huge_tree=False))
    found: dict[str, tuple[str, str | None, int | None, bool]] = {}
    for style in root.iter(W + "style"):
        sid = style.get(W + "styleId") or ""
        name_el = style.find(W + "name")
        name = (name_el.get(W + "val") if name_el is not None else "") or ""
        based = style.find(W + "basedOn")
        outline = style.find(f"{W}pPr/{W}outlineLvl")
        level = int(outline.get(W + "val") or 9) + 1 if outline is not None else None
        numbered = style.find(f"{W}pPr/{W}numPr") is not None
        found[sid] = (name, based.get(W + "val") if based is not None else None, level, numbered)

    def resolve(sid: str, depth: int = 0) -> tuple[int | None, bool]:
        if sid not in found or depth > 10:
            return None, False
        name, based, level, numbered = found[sid]
        if name.lower() == "title":
            return 1, False
        if m := _HEADING_STYLE.match(name):
            return min(max(int(m.group(1)), 1), 6), False
        if level is not None and level <= 6:
            return level, False
        inherited_level, inherited_list = resolve(based, depth + 1) if based else (None, False)
        return inherited_level, numbered or inherited_list or name.lower().startswith("list")

    return {sid: resolve(sid) for sid in found}


def _text_of(element: Any) -> str:
    parts: list[str] = []
    for node in element.iter(W + "t", W + "tab", W + "br", W + "cr"):
        if node.tag == W + "t":
            parts.append(node.text or "")
        elif node.tag == W + "tab":
            parts.append("\t")
        else:
            parts.append("\n")
    return normalise("".join(parts))


def _paragraph_block(p: Any, styles: dict[str, tuple[int | None, bool]]) -> Block | None:
    text = _text_of(p)
    if not text:
        return None
    ppr = p.find(W + "pPr")
    level: int | None = None
    listed = False
    if ppr is not None:
        style = ppr.find(W + "pStyle")
        if style is not None:
            level, listed = styles.get(style.get(W + "val") or "", (None, False))
        outline = ppr.find(W + "outlineLvl")
        if outline is not None and level is None:
            value = int(outline.get(W + "val") or 9)
            level = value + 1 if value < 6 else None
        if ppr.find(W + "numPr") is not None:
            listed = True
    if level is not None:
        return Block(text=" ".join(text.split()), heading_level=level)
    if listed:
        return Block(text="- " + text, list_item=True)
    return Block(text=text)


def _table_block(tbl: Any) -> Block | None:
    rows = []
    for tr in tbl.iterchildren(W + "tr"):
        cells = [_text_of(tc).replace("\n", " ") for tc in tr.iterchildren(W + "tc")]
        if any(cells):
            rows.append(" | ".join(cells))
    return Block(text="\n".join(rows)) if rows else None


def _read_body(
    stream: IO[bytes], styles: dict[str, tuple[int | None, bool]], sink: BlockSink
) -> None:
    from lxml import etree

    body_tag = W + "body"
    for _event, element in etree.iterparse(
        stream,
        events=("end",),
        tag=(W + "p", W + "tbl"),
        resolve_entities=False,
        huge_tree=True,  # a long document is not hostile by itself; the caps above bound it
    ):
        parent = element.getparent()
        if parent is None or parent.tag != body_tag:
            continue  # a paragraph inside a table cell: read with its table
        block = (
            _paragraph_block(element, styles) if element.tag == W + "p" else _table_block(element)
        )
        if block is not None:
            sink.add(block)
        # Release what has been read: the element and the siblings before it.
        element.clear()
        while element.getprevious() is not None:
            del parent[0]


def extract_docx(data: bytes, limits: ExtractionLimits) -> ExtractedDocument:
    from lxml import etree

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ExtractionFailed(f"the Word document is damaged ({exc})") from exc
    sink = BlockSink(limits)
    with zf:
        check_archive(zf, limits)
        try:
            styles = _styles(zf)
            with zf.open("word/document.xml") as stream:
                _read_body(stream, styles, sink)
        except ExtractionError:
            raise
        except (etree.XMLSyntaxError, KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
            raise ExtractionFailed(
                f"the Word document is damaged and cannot be read ({exc})"
            ) from exc
    return ExtractedDocument(kind="docx", blocks=sink.blocks)
