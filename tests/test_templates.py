"""Every user-facing text renders, in Indonesian and English, with the house filters."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.commands_menu import command_list
from bot.render import render, template_names
from tests.template_samples import SAMPLES


def test_every_template_has_sample_data() -> None:
    missing = set(template_names("id")) - set(SAMPLES)
    assert not missing, f"add sample context to tests/template_samples.py for {sorted(missing)}"


def test_every_indonesian_template_has_an_english_twin() -> None:
    assert set(template_names("id")) == set(template_names("en"))


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("name", template_names("id"))
def test_template_renders(name: str, lang: str) -> None:
    text = render(name, lang, **SAMPLES[name])
    assert text.strip(), name
    assert "{{" not in text and "{%" not in text


def test_filters() -> None:
    from bot.render import environment

    env = environment("id")
    out = env.from_string(
        "{{ 1500000 | rupiah }} {{ '3328064211650004' | mask_nik }} {{ d | tanggal }}"
        " {{ '2024-01' | periode }}"
    ).render(d=dt.date(2023, 11, 22))
    assert out == "Rp1.500.000 3328********0004 22 November 2023 Januari 2024"


@pytest.mark.parametrize("lang", ["id", "en"])
def test_command_menu_is_well_formed(lang: str) -> None:
    commands = command_list(lang)
    names = [c.name for c in commands]
    assert len(names) == len(set(names))
    assert {"start", "bantuan"} <= set(names)
    for c in commands:
        assert c.name.isascii() and c.name.islower() and c.description
        assert c.roles is None or c.roles <= {"recipient", "facilitator", "staff", "admin"}
    assert names == [c.name for c in command_list("id")]


def test_bantuan_speaks_to_each_role() -> None:
    """Staff and admins are not told to ask a facilitator; a facilitator hears where family
    messages arrive; a person without an account how to join."""
    for role in ("staff", "admin"):
        text = render("bantuan", "id", role=role, commands=[("ringkasan", "ringkasan")])
        assert "pendamping Anda" not in text and "admin" in text
    assert "Balas" in render("bantuan", "id", role="facilitator", commands=[])
    assert "undangan" in render("bantuan", "id", role=None, commands=[])


def test_family_card_says_a_loss_once() -> None:
    """A month with a loss reads "rugi Rp100.000" on the facilitator's family card, never
    "laba rugi"."""
    figures = [
        {"period": "2024-02", "reported": True, "revenue": 300_000, "profit": -100_000},
        {"period": "2024-03", "reported": True, "revenue": 300_000, "profit": 100_000},
    ]
    text = render("family_card", "id", name="Siti", desa="Kajen", programme="menjahit",
                  phone=None, linked=True, figures=figures, flags=[], help_open=False,
                  last_visit=None)  # fmt: skip
    assert "Februari 2024: omzet Rp300.000, rugi Rp100.000" in text
    assert "Maret 2024: omzet Rp300.000, laba Rp100.000" in text
    assert "laba rugi" not in text
