"""A small document model (headings, paragraphs, tables, images) rendered as markdown or HTML."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str  # may hold `code` and **bold**, the only markup both renderers translate


@dataclass(frozen=True)
class Table:
    rows: list[list[str]]  # the first row is the header; cells may hold `code`


@dataclass(frozen=True)
class Image:
    title: str
    name: str  # file name, linked from markdown in the same directory
    path: Path  # PNG file, embedded into HTML


Block = Heading | Paragraph | Table | Image


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def render_markdown(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.append(markdown_table(block.rows))
        else:
            parts.append(f"![{block.title}]({block.name})")
    return "\n\n".join(parts) + "\n"


def inline_html(text: str) -> str:
    """Escape `text` for HTML and translate its `code` and **bold** spans."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def html_table(rows: list[list[str]]) -> str:
    header = "".join(f"<th>{inline_html(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{inline_html(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows[1:])
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def html_image(image: Image) -> str:
    encoded = base64.b64encode(image.path.read_bytes()).decode("ascii")
    alt = html.escape(image.title)
    return (f'<figure><img alt="{alt}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{alt} ({html.escape(image.name)})</figcaption></figure>")


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #f3f3f3; }
code { background: #f3f3f3; padding: 0 0.2em; }
figure { margin: 1em 0; }
img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.85em; }
"""


def render_html(title: str, blocks: list[Block]) -> str:
    """Return one HTML page with inline style and images: no file or network access to view it."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{inline_html(block.text)}</p>")
        elif isinstance(block, Table):
            parts.append(html_table(block.rows))
        else:
            parts.append(html_image(block))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")
