"""Read back the pages and text of the report PDFs reportlab writes (no PDF library needed).

Enough of PDF for these files: objects, ``ASCII85Decode``/``FlateDecode`` streams, the page
tree, fonts by ``ToUnicode`` CMap (the embedded TrueType subsets), ``UniGB-UCS2-H`` (the CID
font used for Chinese) or WinAnsi, and the text operators ``Tj``, ``TJ``, ``'`` and ``"``.
"""

from __future__ import annotations

import base64
import re
import zlib

_OBJ = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
_REF = re.compile(rb"(\d+) 0 R")


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    out: dict[int, tuple[bytes, bytes | None]] = {}
    for m in _OBJ.finditer(pdf):
        body = m.group(2)
        if b"stream" not in body:
            out[int(m.group(1))] = (body, None)
            continue
        head, raw = body.split(b"stream", 1)
        raw = raw[raw.index(b"\n") + 1 : raw.rindex(b"endstream")].strip()
        filters = re.search(rb"/Filter\s*(\[[^\]]*\]|/\w+)", head)
        for name in re.findall(rb"/(\w+)", filters.group(1)) if filters else []:
            if name == b"ASCII85Decode":
                raw = base64.a85decode(raw.removesuffix(b"~>"))
            elif name == b"FlateDecode":
                raw = zlib.decompress(raw)
            else:
                raise ValueError(f"filter {name!r} not supported")
        out[int(m.group(1))] = (head, raw)
    return out


def _ref(head: bytes, key: bytes) -> int | None:
    m = re.search(rb"/" + key + rb"\s+(\d+) 0 R", head)
    return int(m.group(1)) if m else None


def _page_ids(objs, node: int) -> list[int]:
    head = objs[node][0]
    if re.search(rb"/Type /Page\b(?!s)", head):
        return [node]
    kids = re.search(rb"/Kids\s*\[([^\]]*)\]", head)
    return [p for k in _REF.findall(kids.group(1)) for p in _page_ids(objs, int(k))]


def _font_decoder(objs, font_id: int):
    head = objs[font_id][0]
    if b"UCS2" in head:  # Adobe CID font with a UCS-2 (big-endian) encoding
        return lambda raw: raw.decode("utf-16-be", "replace")
    cmap_id = _ref(head, b"ToUnicode")
    if cmap_id is None:
        return lambda raw: raw.decode("cp1252", "replace")
    cmap = objs[cmap_id][1].decode("latin-1")
    table = {
        int(src, 16): chr(int(dst, 16))
        for src, dst in re.findall(r"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4})>", cmap)
    }
    return lambda raw: "".join(table.get(b, "\ufffd") for b in raw)


def _literal(data: bytes, i: int) -> tuple[bytes, int]:
    """The PDF literal string starting after the ``(`` at ``i``; returns it and the next index."""
    out = bytearray()
    depth = 1
    escapes = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
    while True:
        c = data[i]
        i += 1
        if c == 0x5C:  # backslash
            nxt = data[i]
            if 0x30 <= nxt <= 0x37:
                digits = re.match(rb"[0-7]{1,3}", data[i : i + 3]).group(0)
                out.append(int(digits, 8) & 0xFF)
                i += len(digits)
                continue
            i += 1
            if nxt in (10, 13):
                continue
            out.append(escapes.get(nxt, nxt))
        elif c == 0x28:
            depth += 1
            out.append(c)
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out), i
            out.append(c)
        else:
            out.append(c)


# One token: a literal string's "(", a hex string, a name, "[", "]", or a number/operator.
_TOKEN = re.compile(
    rb"\s*(?:(\()|<([0-9A-Fa-f\s]*)>|(/[^\s/\[\]()<>]+)|(\[)|(\])|([^\s/\[\]()<>]+))"
)


def _page_text(content: bytes, fonts: dict[bytes, object]) -> str:
    text: list[str] = []
    operands: list = []
    array: list | None = None
    decode = None
    i = 0
    while i < len(content):
        m = _TOKEN.match(content, i)
        if m is None or m.end() == i:
            break
        i = m.end()
        if m.group(1):
            value, i = _literal(content, i)
            (array if array is not None else operands).append(value)
        elif m.group(2) is not None:
            value = bytes.fromhex(re.sub(rb"\s", b"", m.group(2)).decode())
            (array if array is not None else operands).append(value)
        elif m.group(3):
            operands.append(m.group(3))
        elif m.group(4):
            array = []
        elif m.group(5):
            operands.append(array)
            array = None
        elif array is not None:
            continue  # a kerning number inside TJ
        else:
            op = m.group(6)
            if op == b"Tf":
                decode = fonts.get(operands[-2][1:])
            elif op in (b"Tj", b"'", b'"') and decode is not None:
                text.append(decode(operands[-1]))
            elif op == b"TJ" and decode is not None:
                text.extend(decode(s) for s in operands[-1] if isinstance(s, bytes))
            elif op in (b"T*", b"ET"):
                text.append("\n")
            operands = [] if op.isalpha() or op in (b"'", b'"') else [*operands, op]
    return "".join(text)


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page, in page order."""
    objs = _objects(pdf)
    catalog = next(h for h, _ in objs.values() if re.search(rb"/Type /Catalog", h))
    pages = _page_ids(objs, _ref(catalog, b"Pages"))
    out = []
    for page in pages:
        head = objs[page][0]
        font_dict = objs[_ref(head, b"Font")][0]
        fonts = {
            name: _font_decoder(objs, int(ref))
            for name, ref in re.findall(rb"/([^\s/]+)\s+(\d+) 0 R", font_dict)
        }
        out.append(_page_text(objs[_ref(head, b"Contents")][1], fonts))
    return out


def squeeze(text: str) -> str:
    """``text`` without any whitespace (line breaks fall anywhere in a rendered paragraph)."""
    return re.sub(r"\s+", "", text)


def report_text(pdf: bytes, title: str) -> str:
    """The text of a report PDF without its page footers (``<title> — page N``)."""
    pages = pdf_pages(pdf)
    return "".join(
        page.replace(f"{title} — page {n}", "", 1) for n, page in enumerate(pages, start=1)
    )
