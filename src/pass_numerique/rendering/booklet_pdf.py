"""Print-ready booklets: pure PDF rendering with fpdf2, from plain input structs.

A leaf like the rest of ``rendering``: it knows nothing of tables, domain or settings.
``domain/printing`` reads the booklets, maps them to ``BookletPrint`` and passes the
``Branding`` it builds from the settings.

A booklet is one cover page and ``ceil(N / 5)`` coupon pages (A4 portrait,
five coupons per page with cut marks). Every QR code is drawn as vector
rectangles, one rectangle per horizontal run of dark modules, all filled by a
single path operator (no seams between modules, crisp at any resolution).
Fonts (DejaVu, shipped in ``pass_numerique/fonts``) are embedded as subsets.

The same inputs give the same bytes: reprints carry identical codes.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import msgspec
import qrcode
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M

FONTS_DIR = Path(__file__).resolve().parent.parent / "fonts"
COUPONS_PER_PAGE = 5
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 10.0
COUPON_W = PAGE_W - 2 * MARGIN
COUPON_H = (PAGE_H - 2 * MARGIN) / COUPONS_PER_PAGE
# A fixed mask pattern is valid QR and makes encoding about 7 times faster than
# trying all eight (the qrcode default); every printed code is decoded in the tests.
QR_MASK_PATTERN = 2
_PT_PER_MM = 72 / 25.4

BRAND = (31, 58, 95)  # dark blue: prints well in colour and in grey
ACCENT = (0, 122, 110)  # teal
INK = (25, 25, 25)
MUTED = (95, 95, 95)
GUIDE = (150, 150, 150)


class Branding(msgspec.Struct, frozen=True, kw_only=True):
    """What every booklet of the service shares: the scheme's name, logo and public address."""

    scheme_name: str = "Pass numérique"
    logo_path: str = ""
    """A PNG or JPEG logo; empty for the default neutral logo drawn in vector."""
    public_url: str = "http://127.0.0.1:8000"
    """Without a trailing slash."""

    def sites_url(self, territory_code: str) -> str:
        """The stable public page listing the partner sites of a territory."""
        return f"{self.public_url}/lieux/{quote(territory_code, safe='')}"


class VoucherPrint(msgspec.Struct, frozen=True, kw_only=True):
    """What is printed on one coupon."""

    number: int
    face_value_cents: int
    short_code: str
    """As people type it, with its dashes."""
    url: str
    """The QR code's payload."""


class BookletPrint(msgspec.Struct, frozen=True, kw_only=True):
    """Everything printed on one booklet; nothing about the beneficiary."""

    serial: str
    programme_name: str
    funders: list[str]
    territory_code: str
    """Names the public page of the territory's partner sites (``Branding.sites_url``)."""
    valid_from: date
    valid_until: date
    vouchers: list[VoucherPrint]


# ---------------------------------------------------------------------------
# small helpers


def qr_matrix(payload: str) -> list[list[bool]]:
    """The QR modules of ``payload`` (error correction M, no quiet zone)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=QR_MASK_PATTERN)
    code.add_data(payload)
    code.make(fit=True)
    return code.modules


def qr_runs(matrix: Sequence[Sequence[bool]]) -> str:
    """PDF ``re`` operators, one per horizontal run of dark modules, in module units."""
    parts: list[str] = []
    for row_index, row in enumerate(matrix):
        start = -1
        for col, dark in enumerate(row):
            if dark and start < 0:
                start = col
            elif not dark and start >= 0:
                parts.append(f"{start} {row_index} {col - start} 1 re")
                start = -1
        if start >= 0:
            parts.append(f"{start} {row_index} {len(row) - start} 1 re")
    return "\n".join(parts)


QrDrawing = tuple[int, str]
"""A QR code ready to draw: its width in modules and its ``re`` operators."""


def qr_drawing(payload: str) -> QrDrawing:
    """Encode ``payload`` and turn it into drawing operators (picklable: runs in worker processes)."""
    matrix = qr_matrix(payload)
    return len(matrix), qr_runs(matrix)


def exit_with_parent() -> None:
    """Initializer of the QR worker processes: a worker ends when the process that started it
    dies (``kill -9`` included), instead of waiting for work forever as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def display_url(url: str) -> str:
    """An address as people type it: without ``https://``."""
    return url.split("://", 1)[-1]


def french_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def euros(cents: int) -> str:
    """``1000`` → ``10 €``, ``1050`` → ``10,50 €``."""
    if cents % 100 == 0:
        return f"{cents // 100}\u00a0€"
    return f"{cents // 100},{cents % 100:02d}\u00a0€"


def page_count(voucher_count: int) -> int:
    """Pages of one booklet: the cover plus the coupon pages."""
    return 1 + math.ceil(voucher_count / COUPONS_PER_PAGE)


# ---------------------------------------------------------------------------
# the renderer


class BookletRenderer:
    """Lays out booklets, one after the other, in one fpdf2 document."""

    def __init__(
        self,
        branding: Branding,
        *,
        created: datetime | None = None,
        prepared: Mapping[str, QrDrawing] | None = None,
    ) -> None:
        """``prepared``: QR codes already encoded (e.g. in other processes), by payload."""
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.c_margin = 0
        pdf.set_creation_date(created or datetime(2026, 1, 1, tzinfo=UTC))
        pdf.set_producer("Pass numérique")
        pdf.set_title(branding.scheme_name)
        pdf.add_font("sans", "", str(FONTS_DIR / "DejaVuSans.ttf"))
        pdf.add_font("sans", "B", str(FONTS_DIR / "DejaVuSans-Bold.ttf"))
        pdf.add_font("mono", "B", str(FONTS_DIR / "DejaVuSansMono-Bold.ttf"))
        self.pdf = pdf
        self.branding = branding
        self._qr_cache: dict[str, QrDrawing] = dict(prepared or {})
        self.pages = 0

    # drawing primitives ------------------------------------------------

    def qr(self, payload: str, x: float, y: float, size: float, *, cache: bool = False) -> None:
        """Draw the QR of ``payload`` as vector rectangles in a ``size`` mm square at (x, y)."""
        drawing = self._qr_cache.get(payload)
        if drawing is None:
            drawing = qr_drawing(payload)
            if cache:
                self._qr_cache[payload] = drawing
        modules, runs = drawing
        module = size / modules * _PT_PER_MM
        left, top = x * _PT_PER_MM, (PAGE_H - y) * _PT_PER_MM
        self.pdf._out(f"q 0 g {module:.4f} 0 0 {-module:.4f} {left:.2f} {top:.2f} cm\n{runs}\nf Q")

    def font(self, family: str, style: str, size: float, color: tuple[int, int, int] = INK) -> None:
        self.pdf.set_font(family, style, size)
        self.pdf.set_text_color(*color)

    def text(self, x: float, y: float, text: str, *, align: str = "L") -> None:
        """Text with its baseline at ``y``; ``align`` R or C anchors it at ``x``."""
        if align != "L":
            width = self.pdf.get_string_width(text)
            x -= width if align == "R" else width / 2
        self.pdf.text(x, y, text)

    def default_logo(self, x: float, y: float, size: float, *, inverse: bool = False) -> None:
        """The neutral default logo: a voucher with two notches and a cursor arrow."""
        pdf = self.pdf
        paper, ink = ((255, 255, 255), BRAND) if inverse else (BRAND, (255, 255, 255))
        pdf.set_fill_color(*paper)
        pdf.rect(x, y, size, size, style="F", round_corners=True, corner_radius=size * 0.2)
        ticket_w, ticket_h = size * 0.72, size * 0.46
        tx, ty = x + (size - ticket_w) / 2, y + (size - ticket_h) / 2
        pdf.set_fill_color(*ink)
        pdf.rect(tx, ty, ticket_w, ticket_h, style="F", round_corners=True, corner_radius=size * 0.05)
        pdf.set_fill_color(*paper)
        notch = ticket_h * 0.18
        pdf.circle(tx, ty + ticket_h / 2, notch, style="F")
        pdf.circle(tx + ticket_w, ty + ticket_h / 2, notch, style="F")
        pdf.set_draw_color(*paper)
        pdf.set_line_width(size * 0.02)
        pdf.set_dash_pattern(size * 0.04, size * 0.03)
        pdf.line(tx + ticket_w * 0.68, ty + size * 0.04, tx + ticket_w * 0.68, ty + ticket_h - size * 0.04)
        pdf.set_dash_pattern()
        ax, ay, s = tx + ticket_w * 0.22, ty + ticket_h * 0.2, ticket_h * 0.62
        pdf.polygon(
            [(ax, ay), (ax, ay + s), (ax + s * 0.28, ay + s * 0.74), (ax + s * 0.5, ay + s * 1.0),
             (ax + s * 0.62, ay + s * 0.92), (ax + s * 0.42, ay + s * 0.66), (ax + s * 0.74, ay + s * 0.62)],
            style="F",
        )  # fmt: skip

    def logo(self, x: float, y: float, size: float) -> None:
        if self.branding.logo_path:
            self.pdf.image(self.branding.logo_path, x, y, w=size, h=size, keep_aspect_ratio=True)
        else:
            self.default_logo(x, y, size, inverse=True)

    # pages ---------------------------------------------------------------

    def add_booklet(self, booklet: BookletPrint) -> None:
        """Append the cover and coupon pages of ``booklet``."""
        self.cover(booklet)
        total = len(booklet.vouchers)
        for start in range(0, total, COUPONS_PER_PAGE):
            self.coupon_page(booklet, booklet.vouchers[start : start + COUPONS_PER_PAGE], total)

    def cover(self, booklet: BookletPrint) -> None:
        pdf, brand = self.pdf, self.branding
        pdf.add_page()
        self.pages += 1
        pdf.set_fill_color(*BRAND)
        pdf.rect(0, 0, PAGE_W, 66, style="F")
        self.logo(18, 16, 34)
        self.font("sans", "B", 30, (255, 255, 255))
        self.text(62, 31, brand.scheme_name)
        self.font("sans", "", 14, (255, 255, 255))
        self.text(62, 41, booklet.programme_name)
        if booklet.funders:
            self.font("sans", "", 10, (215, 225, 240))
            pdf.set_xy(62, 45.5)
            pdf.multi_cell(130, 5, "Financé par : " + ", ".join(booklet.funders), align="L")

        count = len(booklet.vouchers)
        value = booklet.vouchers[0].face_value_cents if booklet.vouchers else 0
        self.font("sans", "", 10, MUTED)
        self.text(20, 82, "Carnet n°")
        self.font("mono", "B", 20, INK)
        self.text(20, 92, booklet.serial)
        self.font("sans", "B", 13, BRAND)
        self.text(20, 104, f"{count} chèques de {euros(value)} : {euros(count * value)} en tout")
        self.font("sans", "", 12, INK)
        self.text(
            20, 112, f"Valable du {french_date(booklet.valid_from)} au {french_date(booklet.valid_until)}"
        )
        self.qr(booklet.serial, 160, 74, 30)
        self.font("sans", "", 8, MUTED)
        self.text(175, 109, "Numéro du carnet", align="C")

        self.font("sans", "B", 16, BRAND)
        self.text(20, 132, f"Comment utiliser votre {brand.scheme_name} ?")
        steps = [
            f"Ce carnet contient {count} chèques. Chaque chèque vaut {euros(value)}.",
            "Avec ces chèques, vous apprenez à utiliser un ordinateur, un téléphone ou internet.",
            "Allez dans un lieu partenaire. La liste est en bas de cette page.",
            "Donnez un chèque à la personne qui vous aide. Vous ne payez rien.",
            f"Vos chèques sont valables jusqu'au {french_date(booklet.valid_until)}.",
        ]
        y = 141.0
        for number, step in enumerate(steps, start=1):
            pdf.set_fill_color(*ACCENT)
            pdf.circle(24, y + 3, 3.6, style="F")
            self.font("sans", "B", 12, (255, 255, 255))
            self.text(24, y + 4.4, str(number), align="C")
            self.font("sans", "", 12.5, INK)
            pdf.set_xy(32, y)
            pdf.multi_cell(160, 6.2, step, align="L")
            y = max(pdf.get_y(), y + 6.2) + 4.2

        box_y = 212.0
        pdf.set_draw_color(*ACCENT)
        pdf.set_line_width(0.6)
        pdf.rect(15, box_y, 180, 52, round_corners=True, corner_radius=4)
        url = brand.sites_url(booklet.territory_code)
        self.qr(url, 22, box_y + 8, 36, cache=True)
        self.font("sans", "B", 15, ACCENT)
        self.text(66, box_y + 14, "Où utiliser vos chèques ?")
        self.font("sans", "", 12, INK)
        pdf.set_xy(66, box_y + 18)
        sites_help = (
            "Scannez ce code avec votre téléphone. Vous voyez les lieux partenaires près de chez vous."
        )
        pdf.multi_cell(122, 6, sites_help, align="L")
        self.font("sans", "", 11, MUTED)
        self.text(66, box_y + 38, "Ou tapez cette adresse :")
        self.font("sans", "B", 12, INK)
        self.text(66, box_y + 45, display_url(url))

        self.font("sans", "B", 11, INK)
        self.text(20, 277, "Carnet perdu ou volé ?")
        self.font("sans", "", 11, INK)
        self.text(20, 283, "Prévenez vite la structure qui vous l'a donné. Elle peut le bloquer.")
        self.font("sans", "", 9, MUTED)
        self.text(
            20, 289, "Ce carnet ne porte pas votre nom. Ne jetez pas les chèques que vous n'utilisez pas."
        )

    def coupon_page(self, booklet: BookletPrint, vouchers: Sequence[VoucherPrint], total: int) -> None:
        self.pdf.add_page()
        self.pages += 1
        self.cut_marks(len(vouchers))
        for slot, voucher in enumerate(vouchers):
            self.coupon(booklet, voucher, total, MARGIN + slot * COUPON_H)

    def cut_marks(self, coupons: int) -> None:
        """Crop marks in the margins and light dashed guides between coupons."""
        pdf = self.pdf
        bottom = MARGIN + coupons * COUPON_H
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(0.2)
        for index in range(coupons + 1):
            y = MARGIN + index * COUPON_H
            pdf.line(1.5, y, MARGIN - 2, y)
            pdf.line(PAGE_W - MARGIN + 2, y, PAGE_W - 1.5, y)
        for x in (MARGIN, PAGE_W - MARGIN):
            pdf.line(x, 1.5, x, MARGIN - 2)
            pdf.line(x, bottom + 2, x, min(bottom + MARGIN - 1.5, PAGE_H - 1.5))
        pdf.set_draw_color(*GUIDE)
        pdf.set_line_width(0.15)
        pdf.set_dash_pattern(1.2, 1.2)
        for index in range(1, coupons):
            y = MARGIN + index * COUPON_H
            pdf.line(MARGIN + 5, y, PAGE_W - MARGIN, y)
        pdf.set_dash_pattern()
        self.font("sans", "", 9, GUIDE)
        for index in range(1, coupons):
            self.text(MARGIN, MARGIN + index * COUPON_H + 1.2, "\u2702")

    def coupon(self, booklet: BookletPrint, code: VoucherPrint, total: int, y0: float) -> None:
        pdf = self.pdf
        x0, right = MARGIN, MARGIN + COUPON_W - 6
        pdf.set_draw_color(*BRAND)
        pdf.set_line_width(0.35)
        pdf.rect(x0 + 2.5, y0 + 2.5, COUPON_W - 5, COUPON_H - 5, round_corners=True, corner_radius=3)
        qr_size = 40.0
        self.qr(code.url, x0 + 7, y0 + (COUPON_H - qr_size) / 2, qr_size)
        x1 = x0 + 53
        self.font("sans", "B", 10.5, BRAND)
        self.text(x1, y0 + 10.5, self.coupon_title(booklet))
        self.font("sans", "B", 11, INK)
        self.text(right, y0 + 10.5, f"Chèque {code.number}/{total}", align="R")
        self.font("sans", "", 8, MUTED)
        self.text(x1, y0 + 17.5, "Code du chèque")
        self.font("mono", "B", 21, INK)
        self.text(x1, y0 + 26.5, code.short_code)
        self.font("sans", "B", 24, BRAND)
        self.text(right, y0 + 26.5, euros(code.face_value_cents), align="R")
        self.font("sans", "", 9.5, INK)
        valid = f"Valable du {french_date(booklet.valid_from)} au {french_date(booklet.valid_until)}"
        self.text(x1, y0 + 34, valid)
        self.text(x1, y0 + 39.5, f"Carnet n° {booklet.serial}")
        pdf.set_draw_color(*GUIDE)
        pdf.set_line_width(0.15)
        pdf.line(x1, y0 + 42.5, right, y0 + 42.5)
        self.font("sans", "", 7.5, MUTED)
        self.text(
            x1, y0 + 47.5, f"Lieu de médiation : scannez ou saisissez le code sur {self.branding.public_url}"
        )

    def coupon_title(self, booklet: BookletPrint) -> str:
        """``Scheme · Programme``, or the programme alone when it already names the scheme."""
        scheme, programme = self.branding.scheme_name, booklet.programme_name
        if programme.lower().startswith(scheme.lower()):
            return programme
        return f"{scheme} · {programme}"

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render_booklets(booklets: Iterable[BookletPrint], branding: Branding) -> bytes:
    """One PDF holding ``booklets``, in order."""
    renderer = BookletRenderer(branding)
    for booklet in booklets:
        renderer.add_booklet(booklet)
    return renderer.output()


def render_booklet(booklet: BookletPrint, branding: Branding) -> bytes:
    """The PDF of one booklet (cover and coupons)."""
    return render_booklets([booklet], branding)
