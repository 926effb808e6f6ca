"""The wheel carries templates/ and migrations/, and the installed package finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = out.glob("pendamping-*.whl")
    return path


def test_wheel_contains_data_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (REPO / "templates").rglob("*.j2"):
        rel = template.relative_to(REPO / "templates").as_posix()
        assert f"bot/_data/templates/{rel}" in names
    for migration in (REPO / "migrations").glob("*.sql"):
        assert f"bot/_data/migrations/{migration.name}" in names
    assert "handlers/basic.py" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_loads_its_own_data(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
         str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    code = (
        "import bot.paths, bot.render, bot.db;"
        "print(bot.paths.templates_dir()); print(bot.paths.migrations_dir());"
        "print(bot.render.render('error_generic'));"
        "print(len(bot.db.discover_migrations()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == str(target / "bot" / "_data" / "templates")
    assert lines[1] == str(target / "bot" / "_data" / "migrations")
    assert lines[2].startswith("Maaf")
    assert int(lines[3]) == len(list((REPO / "migrations").glob("*.sql")))
