"""Writing small workbooks (rejected rows, invite lists). Text that looks like a formula is
written as a text cell, never as a formula."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from bot.domain.cells import is_formula_like
from bot.private_files import temp_file_beside


def write_workbook(
    path: str | Path, sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence]]]
) -> None:
    """sheets: (title, header, rows). Written atomically (tmp file then rename)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    for title, header, rows in sheets:
        ws = wb.create_sheet(title[:31])

        def cells(values: Sequence, ws=ws) -> list:
            out = []
            for value in values:
                cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, str) and is_formula_like(value):
                    cell.data_type = "s"
                elif isinstance(value, str):
                    cell.number_format = "@"
                out.append(cell)
            return out

        ws.append(cells(list(header)))
        for row in rows:
            ws.append(cells(list(row)))
    path = Path(path)
    tmp = temp_file_beside(path)  # 0600 whatever the umask; beside the output, not in /tmp
    try:
        wb.save(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
