"""Markdown through markdown-it-py (CommonMark, with tables): headings, paragraphs, list items
(one block each, nested items too), code blocks and tables. A block's text is its source lines,
so what a person reads in a search result is what they wrote."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from phi_core_api.documents.extraction.base import (
    Block,
    BlockSink,
    ExtractedDocument,
    ExtractionLimits,
    normalise,
)
from phi_core_api.documents.extraction.text import decode_text

_PARSER = MarkdownIt("commonmark").enable("table")


def markdown_blocks(text: str) -> list[Block]:
    text = normalise(text)
    lines = text.split("\n")
    tokens = _PARSER.parse(text)
    blocks: list[Block] = []
    # Per open list item: its marker and the index of its block (its first paragraph opens
    # the block; a second paragraph of the same item is appended to it).
    open_items: list[tuple[str, int | None]] = []

    def source(token: Token) -> str:
        assert token.map is not None
        return "\n".join(lines[token.map[0] : token.map[1]]).strip()

    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            inline = tokens[i + 1]
            blocks.append(Block(text=inline.content.strip(), heading_level=int(token.tag[1:])))
            i += 3
            continue
        if kind == "list_item_open":
            marker = token.markup if token.markup in "-*+" else f"{token.info}{token.markup}"
            open_items.append((marker, None))
        elif kind == "list_item_close":
            open_items.pop()
        elif kind == "paragraph_open":
            content = source(token) if not open_items else tokens[i + 1].content.strip()
            if open_items:
                marker, index = open_items[-1]
                if index is None:
                    blocks.append(Block(text=f"{marker or '-'} {content}", list_item=True))
                    open_items[-1] = (marker, len(blocks) - 1)
                else:
                    previous = blocks[index]
                    blocks[index] = Block(text=f"{previous.text}\n{content}", list_item=True)
            elif content:
                blocks.append(Block(text=content))
            i += 3
            continue
        elif kind in ("fence", "code_block", "html_block", "table_open"):
            if token.map is not None:
                body = source(token)
                if body:
                    blocks.append(Block(text=body))
            if kind == "table_open":
                while i < len(tokens) and tokens[i].type != "table_close":
                    i += 1
        i += 1
    return blocks


def extract_markdown(data: bytes, limits: ExtractionLimits) -> ExtractedDocument:
    sink = BlockSink(limits)
    sink.extend(markdown_blocks(decode_text(data, limits)))
    return ExtractedDocument(kind="md", blocks=sink.blocks)
