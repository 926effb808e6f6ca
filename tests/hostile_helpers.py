"""Shared by the hostile and access suites: error capture and database integrity checks."""

from __future__ import annotations

import datetime as dt
import json
import logging

from bot.domain.forms import MAX_TEXT, Kind, form_for
from bot.render import render

GENERIC_ERROR = render("error_generic")
GENERIC_ERROR_EN = render("error_generic", "en")


class ErrorCapture(logging.Handler):
    """Records every ERROR log line: the error handler's and PTB's own ('No error handlers')."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> ErrorCapture:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)

    def describe(self) -> list[str]:
        out = []
        for r in self.records:
            exc = r.exc_info[1] if r.exc_info else None
            out.append(f"{r.name}: {r.getMessage()} {type(exc).__name__ if exc else ''} {exc!r}")
        return out


def generic_errors_sent(core) -> list[dict]:
    """Bot messages carrying the error handler's generic 'Maaf, terjadi gangguan' text."""
    found = []
    for (_chat, _mid), stored in core.messages.items():
        text = stored.data.get("text") or ""
        if stored.from_bot and (GENERIC_ERROR in text or GENERIC_ERROR_EN in text):
            found.append(stored.data)
    return found


def well_formed(kind: Kind, q, value, today: dt.date | None = None) -> bool:
    if value is None:
        return q.optional
    if kind == Kind.CHOICE:
        return value in q.choices
    if kind == Kind.AMOUNT:
        return type(value) is int and value >= 0
    if kind == Kind.INTEGER:
        return type(value) is int and q.minimum <= value <= q.maximum
    if kind == Kind.YESNO:
        return type(value) is bool
    if kind == Kind.TEXT:
        return isinstance(value, str) and 0 < len(value) <= MAX_TEXT
    if kind == Kind.PHOTO:
        return isinstance(value, dict) and {"file_id", "unique_id"} <= set(value)
    if kind == Kind.DATE:
        dt.date.fromisoformat(value)
        return True
    return False


async def integrity_problems(db) -> list[str]:
    """Partial records: a report without its required columns, a draft answer its form's
    parsers would refuse, a visit without scores, an answer for an unknown question."""
    problems: list[str] = []
    for r in await db.fetchall("SELECT r.*, p.programme FROM reports r"
                               " JOIN recipients p ON p.id = r.recipient_id"):  # fmt: skip
        answers = json.loads(r["answers"])
        if r["period"] is None or not r["submitted_at"] or r["business_status"] is None:
            problems.append(f"report {r['id']}: a required column is empty")
        if answers.get("status") != r["business_status"]:
            problems.append(f"report {r['id']}: status column differs from its answers")
        if r["business_status"] != "tutup" and (r["revenue"] is None or r["costs"] is None):
            problems.append(f"report {r['id']}: running business without revenue/costs")
        form = form_for("monthly", r["programme"], r["period"])
        problems += _answer_problems(f"report {r['id']}", form, answers)
    for v in await db.fetchall("SELECT * FROM visits"):
        scores = [v[k] for k in ("score_bookkeeping", "score_quality", "score_market",
                                 "score_motivation")]  # fmt: skip
        if not v["visit_date"] or any(s is None for s in scores) or v["business_running"] is None:
            problems.append(f"visit {v['id']}: a required column is empty")
    for d in await db.fetchall("SELECT d.*, p.programme FROM report_drafts d"
                               " JOIN recipients p ON p.id = d.recipient_id"):  # fmt: skip
        form = form_for(d["form"], d["programme"], d["period"])
        problems += _answer_problems(f"draft {d['id']}", form, json.loads(d["answers"]))
    return problems


def _answer_problems(where: str, form, answers: dict) -> list[str]:
    problems = []
    keys = {q.key: q for q in form.questions}
    for key, value in answers.items():
        q = keys.get(key)
        if q is None:
            if key.startswith("_") or key in ("profit_computed",):
                continue
            problems.append(f"{where}: answer for unknown question {key!r}")
            continue
        if not well_formed(q.kind, q, value):
            problems.append(f"{where}: {key}={value!r} fails the form's parser")
    return problems
