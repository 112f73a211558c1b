"""Render report blocks as one self-contained HTML page: inline CSS, PNGs embedded as base64."""

from __future__ import annotations

import base64
import html
import re

from sentemb.report.blocks import Heading, Image, Section, Table, Text

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;margin:0;
 color:#1f2328;background:#f6f8fa;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px;background:#fff;min-height:100vh}
h1{font-size:1.7em;margin:.2em 0 .4em;border-bottom:2px solid #d0d7de;padding-bottom:.3em}
h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
h3{font-size:1.05em;margin-top:1.3em}
p{margin:.5em 0}
code{background:#eff1f3;border-radius:4px;padding:.1em .35em;font-size:.88em;word-break:break-all}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}
p.cap{font-weight:600;margin:.8em 0 .2em}
th,td{border:1px solid #d0d7de;padding:.3em .6em;vertical-align:top}
th{background:#f0f3f6}
tr:nth-child(even) td{background:#fafbfc}
td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
.tw{overflow-x:auto;max-width:100%}
td.l,th.l{text-align:left}
img{max-width:100%;height:auto;border:1px solid #eaeef2;margin:.4em 0}
nav{font-size:.9em;margin:.5em 0 1em}
nav a{margin-right:.9em;color:#0969da;text-decoration:none}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
"""


def _inline(text: str) -> str:
    """Escape, then `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _table(t: Table) -> str:
    al = t.alignments()
    out = [f'<p class="cap">{_inline(t.caption)}</p>'] if t.caption else []
    out.append('<div class="tw"><table>')
    out.append("<tr>" + "".join(f'<th class="{a}">{_inline(h)}</th>' for h, a in zip(t.header, al)) + "</tr>")
    for row in t.rows:
        cells = []
        for c, a in zip(row, al):
            cls = a + (" ok" if c == "done" else " bad" if c.startswith("not finished") else "")
            cells.append(f'<td class="{cls}">{_inline(str(c))}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _image(img: Image) -> str:
    data = base64.b64encode(img.path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(img.alt)}" src="data:image/png;base64,{data}">'


def render_html(title: str, intro: list, sections: list[Section]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    body += [_block(b) for b in intro]
    if sections:
        body.append("<nav>" + "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
                    + "</nav>")
    for sec in sections:
        body.append(f'<section id="{sec.anchor}"><h2>{html.escape(sec.title)}</h2>')
        body += [_block(b) for b in sec.blocks]
        body.append("</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
            + "\n".join(body) + "\n</main></body></html>\n")


def _block(b) -> str:
    if isinstance(b, Heading):
        return f"<h{b.level + 1}>{_inline(b.text)}</h{b.level + 1}>"
    if isinstance(b, Text):
        return f"<p>{_inline(b.text)}</p>"
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Image):
        return _image(b)
    raise TypeError(f"unknown report block {type(b).__name__}")
