"""Benchmark: generate a 100,000-row registry workbook and import it twice with the CLI.

Goal: import <= 60 s and <= 300 MB peak memory on a 2-core machine; re-import of the
same file <= 60 s. Each import runs as `python -m bot import` in a child process; its peak
resident memory comes from os.wait4 (ru_maxrss of that child only).

    python benchmarks/import_bench.py [--rows 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _result import result  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
KECAMATAN = [f"{i:02d}" for i in range(1, 19)]
NAMES = ["Siti", "Budi", "Aminah", "Joko", "Sri", "Agus", "Dewi", "Eko", "Wati", "Slamet"]
PROGRAMMES = ["tata boga", "menjahit", "ternak kambing"]
HEADER = [
    "id_keluarga_p3ke", "nik", "kepala_keluarga", "jenis_kelamin", "tanggal_lahir", "kecamatan",
    "desa_kelurahan", "kode_kemdagri", "alamat", "desil_kesejahteraan",
    "jumlah_anggota_keluarga", "penerima_pkh", "penerima_sembako", "jenis_pelatihan", "kelas",
    "paket_bantuan", "nilai_bantuan", "tanggal_penyerahan", "id_pendamping", "no_hp",
]  # fmt: skip
KEC_NAMES = [
    "Margasari", "Bumijawa", "Bojong", "Balapulang", "Pagerbarang", "Lebaksiu", "Jatinegara",
    "Kedungbanteng", "Pangkah", "Slawi", "Adiwerna", "Talang", "Dukuhturi", "Tarub", "Kramat",
    "Suradadi", "Warureja", "Dukuhwaru",
]  # fmt: skip


def generate(path: Path, rows: int, seed: int = 4) -> None:
    from openpyxl import Workbook

    rnd = random.Random(seed)
    wb = Workbook(write_only=True)
    fac = wb.create_sheet("pendamping")
    fac.append(["id_pendamping", "nama", "no_hp", "kecamatan"])
    for k, name in enumerate(KEC_NAMES, start=1):
        for j in range(1, 6):
            fac.append(
                [
                    f"PD-{k:02d}{j}",
                    f"{rnd.choice(NAMES)} {k}{j}",
                    f"0812{rnd.randrange(10**7, 10**8)}",
                    name,
                ]
            )
    sheet = wb.create_sheet("penerima")
    sheet.append(HEADER)
    base = dt.date(1960, 1, 1)
    for i in range(rows):
        k = i % 18 + 1
        birth = base + dt.timedelta(days=(i // 18) % 14000)
        female = i % 2 == 0
        day = birth.day + (40 if female else 0)
        seq = i // (18 * 14000) * 1000 + (i % 997) + 1
        nik = f"3328{k:02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}{seq:04d}"
        desa = f"Desa {k}-{i % 10 + 1}"
        sheet.append([
            f"P3KE-{i:09d}", nik, f"{rnd.choice(NAMES)} {rnd.choice(NAMES)}",
            "Perempuan" if female else "Laki-laki", birth.strftime("%d-%m-%Y"),
            KEC_NAMES[k - 1].upper(), desa.upper(), f"3328{k:02d}20{i % 10 + 1:02d}",
            f"RT {i % 9 + 1:03d} RW 00{i % 5 + 1}", rnd.randint(1, 4), rnd.randint(1, 9),
            rnd.choice(["Ya", "Tidak"]), rnd.choice(["Ya", "Tidak"]), PROGRAMMES[i % 3],
            f"Kelas {i % 12 + 1}", "Paket usaha", 2500000, "22-11-2023",
            f"PD-{k:02d}{i % 5 + 1}", f"08{rnd.randrange(10**9, 10**10)}" if i % 4 else None,
        ])  # fmt: skip
    wb.save(path)


def run_import(xlsx: Path, db: Path) -> tuple[float, int, int, str]:
    """(seconds, exit code, peak RSS in KB of the child, stdout summary)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PENDAMPING_DB": str(db)}
    env.pop("PENDAMPING_CONFIG", None)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "import", str(xlsx)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, proc.returncode, usage.ru_maxrss, out.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", help="folder to keep the workbook and database in")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    xlsx, db = folder / "bench.xlsx", folder / "bench.db"
    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    generate(xlsx, args.rows)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
    print(f"generated {args.rows} rows in {time.perf_counter() - t0:.1f} s "
          f"({xlsx.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
    ok = True
    for label in ("import", "re-import"):
        seconds, code, rss_kb, summary = run_import(xlsx, db)
        print(f"{label}: {seconds:.1f} s, peak RSS {rss_kb / 1024:.0f} MB, exit {code}")
        for line in summary.splitlines()[:2]:
            print(f"  {line}")
        ok = ok and code == 0 and seconds <= 60 and rss_kb / 1024 <= 300
        slug = label.replace("-", "")
        result(f"{slug}_seconds_{args.rows}", seconds, "s", "<= 60", code == 0 and seconds <= 60)
        result(f"{slug}_peak_mb", rss_kb / 1024, "MB", "<= 300", rss_kb / 1024 <= 300)
    print("goal met" if ok else "GOAL NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
