"""Stream many small fpdf2 documents into one PDF file with bounded memory.

fpdf2 keeps a whole document in memory until ``output()``; a print run of
10,000 booklets would need gigabytes. So a print run is rendered in chunks of
booklets, each chunk an ordinary fpdf2 document, and this writer appends each
chunk's objects to the open output file as soon as it is rendered:

* objects are renumbered (only in dictionaries, never inside stream data),
* each chunk's page tree becomes a child of one root page tree
  (nested ``/Pages`` nodes are standard PDF),
* each chunk's catalog and info dictionary are dropped,
* the cross-reference table (a list of offsets) is written at the end.

Only offsets stay in memory: 20 bytes per object in the final file.
The input is what fpdf2 writes (a classic ``xref`` table, no object streams);
anything else is refused rather than mangled.
"""

from __future__ import annotations

import hashlib
import re
from typing import BinaryIO

_REF = re.compile(rb"(\d+) 0 R\b")
_OBJ_HEADER = re.compile(rb"(\d+) 0 obj\s*")
_TRAILER_ENTRY = re.compile(rb"/(Root|Info) (\d+) 0 R")
_PAGES_REF = re.compile(rb"/Pages (\d+) 0 R")
_COUNT = re.compile(rb"/Count (\d+)")
_ROOT, _CATALOG = 1, 2


class PdfConcatError(ValueError):
    """The chunk is not a PDF in the layout fpdf2 writes."""


def _xref_offsets(data: bytes) -> tuple[dict[int, int], int]:
    """Object number → byte offset, from the chunk's classic cross-reference table."""
    start = int(data[data.rindex(b"startxref") + 9 :].split()[0])
    if not data.startswith(b"xref", start):
        raise PdfConcatError("only classic xref tables are supported")
    lines = data[start:].split(b"\n")
    first, count = (int(v) for v in lines[1].split())
    offsets: dict[int, int] = {}
    for index, line in enumerate(lines[2 : 2 + count]):
        offset, _generation, kind = line.split()[:3]
        if kind == b"n":
            offsets[first + index] = int(offset)
    return offsets, start


class PdfConcatenator:
    """Append fpdf2 documents to ``out`` one by one; call ``close()`` once at the end."""

    def __init__(self, out: BinaryIO, *, title: str = "") -> None:
        self.out = out
        self.title = title
        self.offsets: dict[int, int] = {}
        self.next_number = 3  # 1 and 2: the root page tree and the catalog, written last
        self.kids: list[int] = []
        self.page_count = 0
        self.digest = hashlib.md5(usedforsecurity=False)
        self.position = 0
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)
        self.position += len(data)

    def append(self, chunk: bytes) -> int:
        """Copy one document's pages; returns the number of pages added."""
        offsets, xref_start = _xref_offsets(chunk)
        trailer = dict(_TRAILER_ENTRY.findall(chunk[xref_start:]))
        catalog, info = int(trailer[b"Root"]), int(trailer.get(b"Info", b"0"))
        kept = [number for number in sorted(offsets) if number not in (catalog, info)]
        mapping = {old: self.next_number + i for i, old in enumerate(kept)}
        self.next_number += len(mapping)
        bounds = [*sorted(offsets.values()), xref_start]
        ends = {off: bounds[i + 1] for i, off in enumerate(bounds[:-1])}
        catalog_body = chunk[offsets[catalog] : ends[offsets[catalog]]]
        pages_root = int(_PAGES_REF.search(catalog_body).group(1))  # type: ignore[union-attr]
        added = 0
        for old, offset in sorted(offsets.items(), key=lambda item: item[1]):
            if old in (catalog, info):
                continue
            raw = chunk[offset : ends[offset]]
            header = _OBJ_HEADER.match(raw)
            if header is None or int(header.group(1)) != old:
                raise PdfConcatError(f"object {old} is not where the xref says")
            body = raw[header.end() :]
            split = body.find(b"stream\n")
            head, tail = (body, b"") if split < 0 else (body[:split], body[split:])
            head = _REF.sub(lambda m: b"%d 0 R" % mapping[int(m.group(1))], head)
            if old == pages_root:
                head = head.replace(b"<<", b"<<\n/Parent %d 0 R" % _ROOT, 1)
                added = int(_COUNT.search(head).group(1))  # type: ignore[union-attr]
            self.offsets[mapping[old]] = self.position
            self._write(b"%d 0 obj\n" % mapping[old] + head + tail)
        self.kids.append(mapping[pages_root])
        self.page_count += added
        return added

    def close(self) -> None:
        """Write the root page tree, catalog, info, cross-reference table and trailer."""
        kids = b" ".join(b"%d 0 R" % kid for kid in self.kids)
        self.offsets[_ROOT] = self.position
        self._write(b"1 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n" % (kids, self.page_count))
        self.offsets[_CATALOG] = self.position
        self._write(b"2 0 obj\n<< /Type /Catalog /Pages 1 0 R >>\nendobj\n")
        info = self.next_number
        self.offsets[info] = self.position
        title = self.title.encode("utf-16-be").hex().upper().encode()
        self._write(b"%d 0 obj\n<< /Producer (Pass numerique) /Title <FEFF%s> >>\nendobj\n" % (info, title))
        file_id = self.digest.hexdigest().upper().encode()
        xref = self.position
        rows = [b"xref\n0 %d\n" % (info + 1), b"0000000000 65535 f \n"]
        rows += [b"%010d 00000 n \n" % self.offsets[number] for number in range(1, info + 1)]
        self._write(b"".join(rows))
        self._write(
            b"trailer\n<< /Size %d /Root 2 0 R /Info %d 0 R /ID [<%s><%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (info + 1, info, file_id, file_id, xref)
        )
