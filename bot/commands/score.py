"""`pendamping score`: a recipient's readiness score with its reasons; recompute history."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import sys

from bot.config import Settings
from bot.db import open_migrated
from bot.domain.labels import COMPONENT
from bot.domain.nik import NikError, clean_nik, parse_nik
from bot.domain.scoring import BAND_LABELS, ScoreResult, params_from_settings
from bot.services import scoring
from bot.services.graduation import recipient_by_nik

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

COMPONENT_LABELS = COMPONENT  # one table: bot/domain/labels.py
STATE_WORDS = {"met": "terpenuhi", "not_met": "belum terpenuhi", "unknown": "belum diketahui"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="show a recipient's graduation readiness score, or recompute scores",
        description=(
            "Show a recipient's readiness score (computed now from the database and stored), "
            "its band and every component with its reason; or, with --recompute, rescore every "
            "period under the current model version (scores of older versions are kept). "
            "The score recommends; staff decide."
        ),
    )
    p.add_argument("--nik", help="the recipient's 16-digit NIK (full NIK: CLI only)")
    p.add_argument("--period", help="period YYYY-MM (default: the month being reported on)")
    p.add_argument(
        "--recompute",
        action="store_true",
        help="recompute every period (or only --period) for all recipients",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="with --recompute: worker processes (default: CPU count for large batches)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    if args.period and not _PERIOD.match(args.period):
        raise UsageError(f"--period must look like 2024-06, not {args.period!r}")
    if not args.recompute and not args.nik:
        raise UsageError("give --nik NIK (show one recipient) or --recompute")
    if args.nik:
        try:
            parse_nik(args.nik)
        except NikError as exc:
            raise UsageError(f"--nik: {exc}") from None
    settings = settings_from(args)
    now = dt.datetime.now(dt.UTC)
    if args.workers is not None and not 1 <= args.workers <= 16:
        raise UsageError("--workers must be between 1 and 16")
    if args.recompute:
        return asyncio.run(_recompute(settings, args.period, now, args.workers))
    return asyncio.run(_show(settings, clean_nik(args.nik), args.period, now))


def _progress(period: str, scores: int, done: int, total: int) -> None:
    """A running count on stderr: recomputing history can take a while."""
    print(f"[{done}/{total}] {period}: {scores} scores", file=sys.stderr, flush=True)


async def _recompute(
    settings: Settings, period: str | None, now: dt.datetime, workers: int | None
) -> int:
    db = await open_migrated(settings.database, now)
    try:
        if period:
            done = {period: await scoring.recompute_all(db, settings, period, now, workers=workers)}
        else:
            done = await scoring.recompute_history(
                db, settings, now, workers=workers, progress=_progress
            )
    finally:
        await db.close()
    version = params_from_settings(settings).model_version
    for p, count in done.items():
        print(f"{p}: {count} scores")
    print(f"model version {version}: {sum(done.values())} scores in {len(done)} periods")
    return 0


async def _show(settings: Settings, nik: str, period: str | None, now: dt.datetime) -> int:
    from bot.cli import UsageError

    db = await open_migrated(settings.database, now)
    try:
        ref = await recipient_by_nik(db, nik)
        if ref is None:
            raise UsageError("no recipient with that NIK")
        # without --period: the latest period that has data, not an empty current month
        period = period or await scoring.latest_data_period(db, ref.id, now, settings.timezone)
        result = await scoring.recompute_recipient(db, settings, ref.id, now, period)
        flags = await scoring.risk_flags_for(db, ref.id, result.period) if result else []
    finally:
        await db.close()
    if result is None:
        print(f"{ref.name} ({nik}): status {ref.status}, not scored")
        return 1
    print(format_result(ref.name, nik, result, flags))
    return 0


def format_result(name: str, nik: str, result: ScoreResult, flags: list[str]) -> str:
    lines = [
        f"{name}  NIK {nik}  periode {result.period}",
        f"Skor {result.score}/100  {BAND_LABELS[result.band]}"
        f"  (laba setara UMK {result.gate_months} bulan, keyakinan {result.confidence}%)",
    ]
    for gate in result.gates:
        mark = "terpenuhi" if gate.met else "BELUM"
        lines.append(f"  Gerbang {gate.key:<13} {mark:<9}  {gate.reason}")
    for c in result.components:
        label = COMPONENT_LABELS.get(c.key, c.key)
        lines.append(f"  {label:<27} {c.points:>2}/{c.max_points:<2}  {c.reason}")
    checklist = result.inputs.get("checklist") or {}
    if checklist:
        lines.append(
            "Kunjungan graduasi: "
            + ", ".join(
                f"{item} {STATE_WORDS.get(state, state)}" for item, state in checklist.items()
            )
        )
    for note in result.notes:
        if not any(note == g.reason for g in result.gates):
            lines.append(f"Catatan: {note}")
    if flags:
        lines.append("Risiko: " + ", ".join(flags))
    lines.append(f"Model {result.model_version}. Skor ini rekomendasi; keputusan oleh staf.")
    return "\n".join(lines)
