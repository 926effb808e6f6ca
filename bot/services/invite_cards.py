"""Printable invite cards (PDF, 8 per A4 page, QR code of the link) and an XLSX list."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.domain.timefmt import format_date
from bot.private_files import temp_file_beside
from bot.services.invites import InviteCard
from bot.services.spreadsheets import write_workbook

CARD_W, CARD_H = 105.0, 74.25  # mm: A4 in 2 columns x 4 rows
PER_PAGE = 8
INSTRUCTIONS = [
    "1. Buka kamera HP dan arahkan ke kode QR,",
    "   atau ketuk tautan di bawah.",
    "2. Telegram terbuka: tekan MULAI / START.",
    "3. Baca pemberitahuan, lalu tekan Setuju.",
]


def _latin1(text: str) -> str:
    """The PDF core fonts are Latin-1: replace anything else rather than fail."""
    return text.encode("latin-1", "replace").decode("latin-1")


def write_pdf(
    path: str | Path, cards: Sequence[InviteCard], kabupaten: str = "Kabupaten Tegal"
) -> None:
    """Invite cards with their QR codes as an A4 PDF, for printing."""
    import qrcode
    from fpdf import FPDF

    office = _latin1(kabupaten.replace("Kabupaten ", "Kab. ", 1))  # 'Kab. Tegal', 'Kota Tegal'

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title("Undangan Pendamping")
    for index, card in enumerate(cards):
        slot = index % PER_PAGE
        if slot == 0:
            pdf.add_page()
        x = (slot % 2) * CARD_W
        y = (slot // 2) * CARD_H
        pdf.set_draw_color(160, 160, 160)
        pdf.set_line_width(0.2)
        pdf.dashed_line(x, y, x + CARD_W, y, 1, 1)
        pdf.dashed_line(x, y, x, y + CARD_H, 1, 1)
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, box_size=8)
        qr.add_data(card.link)
        qr.make(fit=True)
        image = qr.make_image(fill_color="black", back_color="white").get_image()
        qr_size = 38.0
        pdf.image(image, x=x + CARD_W - qr_size - 4, y=y + 6, w=qr_size, h=qr_size)
        text_w = CARD_W - qr_size - 12
        pdf.set_xy(x + 5, y + 6)
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(text_w, 4, f"PENDAMPING - Dinsos {office}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_xy(x + 5, y + 12)
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(text_w, 5, _latin1(card.name), max_line_height=5)
        pdf.set_font("Helvetica", "", 8)
        lines = []
        if card.nik_masked:
            lines.append(f"NIK: {card.nik_masked}")
        if card.desa:
            lines.append(f"Desa: {card.desa}")
        if card.kecamatan:
            lines.append(f"Kec.: {card.kecamatan}")
        if card.facilitator and card.role == "recipient":
            lines.append(f"Pendamping: {card.facilitator}")
        lines.append(f"Berlaku s.d. {format_date(card.expires_at)}")
        for line in lines:
            pdf.set_x(x + 5)
            pdf.cell(text_w, 4, _latin1(line), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 7.5)
        pdf.set_xy(x + 5, y + 47)
        for line in INSTRUCTIONS:
            pdf.set_x(x + 5)
            pdf.cell(CARD_W - 10, 3.6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(x + 5)
        pdf.set_font("Courier", "", 6.5)
        pdf.cell(CARD_W - 10, 3.6, card.link, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "I", 6.5)
        pdf.set_x(x + 5)
        pdf.cell(CARD_W - 10, 3.2, "Kartu ini hanya untuk Anda. Jangan dibagikan.")
    path = Path(path)
    tmp = temp_file_beside(path)  # 0600 whatever the umask: the cards carry live links
    try:
        pdf.output(str(tmp))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


LIST_HEADER = [
    "nama",
    "nik",
    "desa",
    "kecamatan",
    "pendamping",
    "peran",
    "tautan",
    "berlaku_sampai",
]


def write_xlsx(path: str | Path, cards: Sequence[InviteCard]) -> None:
    """The invite list as a workbook (NIK masked)."""
    rows = (
        [c.name, c.nik_masked, c.desa, c.kecamatan, c.facilitator, c.role, c.link,
         format_date(c.expires_at)]
        for c in cards
    )  # fmt: skip
    write_workbook(path, [("undangan", LIST_HEADER, rows)])
