"""Finding and matching the header row of an imported sheet. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.domain.cells import name_key

# field -> accepted header spellings (compared with name_key, so case/spaces/_ do not matter)
RECIPIENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "p3ke_family_id": ("id keluarga p3ke", "id keluarga", "id p3ke", "idkeluarga"),
    "nik": ("nik", "nik kepala keluarga", "no nik", "nomor nik", "nomor induk kependudukan"),
    "name": ("kepala keluarga", "nama", "nama penerima", "penerima", "nama kepala keluarga",
             "nama lengkap"),
    "gender": ("jenis kelamin", "jk", "l p", "kelamin"),
    "birth_date": ("tanggal lahir", "tgl lahir", "tgllahir"),
    "kecamatan": ("kecamatan", "kec", "nama kecamatan"),
    "desa": ("desa kelurahan", "desa", "kelurahan", "desa kel", "nama desa"),
    "desa_code": ("kode kemdagri", "kode desa", "kode wilayah", "kode kemendagri"),
    "address": ("alamat", "alamat lengkap"),
    "welfare_decile": ("desil kesejahteraan", "desil"),
    "household_size": ("jumlah anggota keluarga", "jumlah art", "jml art", "anggota keluarga",
                       "jumlah anggota"),
    "receives_pkh": ("penerima pkh", "pkh"),
    "receives_sembako": ("penerima sembako", "sembako", "bpnt"),
    "programme": ("jenis pelatihan", "pelatihan", "program", "jenis usaha"),
    "training_class": ("kelas", "kelas pelatihan"),
    "package": ("paket bantuan", "paket"),
    "assistance_value": ("nilai bantuan", "nilai paket", "nilai"),
    "livestock_received": ("jumlah ternak diterima", "jumlah kambing diterima", "ternak diterima",
                           "jumlah ternak"),
    "handover_date": ("tanggal penyerahan", "tgl penyerahan", "tanggal serah terima"),
    "facilitator_code": ("id pendamping", "kode pendamping", "pendamping"),
    "phone": ("no hp", "nomor hp", "no telp", "telepon", "hp", "no wa", "nomor wa", "whatsapp"),
}  # fmt: skip
RECIPIENT_REQUIRED = ("nik", "name", "kecamatan", "programme")

FACILITATOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("id pendamping", "kode pendamping", "id", "kode"),
    "name": ("nama", "nama pendamping"),
    "phone": ("no hp", "nomor hp", "no telp", "telepon", "hp", "no wa"),
    "kecamatan": ("kecamatan", "kec", "wilayah"),
}
FACILITATOR_REQUIRED = ("code", "name")

HEADER_SEARCH_ROWS = 20


def match_headers(cells: Sequence[object], columns: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """field -> column index for the header cells that name a known field (first wins)."""
    lookup: dict[str, str] = {}
    for column_field, names in columns.items():
        for n in names:
            lookup.setdefault(name_key(n).replace(" ", ""), column_field)
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = name_key(cell).replace(" ", "")
        field_name = lookup.get(key)
        if field_name is not None and field_name not in found:
            found[field_name] = index
    return found


def find_header(
    rows: Iterable[tuple[int, Sequence[object]]],
    columns: dict[str, tuple[str, ...]],
    required: Sequence[str],
) -> tuple[int, dict[str, int]] | None:
    """The first of the top rows holding every required column: (row number, mapping)."""
    for count, (row_number, cells) in enumerate(rows):
        if count >= HEADER_SEARCH_ROWS:
            break
        mapping = match_headers(cells, columns)
        if all(r in mapping for r in required):
            return row_number, mapping
    return None
