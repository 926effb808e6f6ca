"""The access matrix with targets: every role x every registered command and every callback
prefix x a target inside and outside the role's scope, through the real bot (sandbox).

Roles: unlinked, recipient, facilitator, staff of another kecamatan, staff, admin. Targets: a
recipient of kecamatan 33.28.06 (facilitator PD-101) and one of 33.28.03 (PD-202), each with
reports, a help flag, an open draft of someone else and a confirmed graduation case.
A cell fails on a leak in what the actor receives (messages, edits, button labels, toasts,
XLSX files): any full NIK, or the name or a report figure of a recipient outside the actor's
scope; and on a side effect on an out-of-scope recipient (case decided, draft, flag resolved,
invite, mentoring ended). A registered command or callback prefix without cells fails.
"""

from __future__ import annotations

import io
import re

import pytest
from telegram.ext import CallbackQueryHandler

from bot.db import Database
from bot.domain.scoring import Observation
from tests.access_matrix import registered_commands
from tests.hostile_helpers import ErrorCapture, generic_errors_sent
from tests.scoring_db import NOW, add_account, add_facilitator, add_recipient, add_report
from tests.suite_counts import COUNTS, SCENARIOS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

IN_KEC, OUT_KEC = "33.28.06", "33.28.03"
IN_NIK, OUT_NIK = "3328064107850001", "3328034107850002"
IN_NAME, OUT_NAME = "Sumirah Wulandari", "Karsinah Prameswari"
IN_REVENUE, OUT_REVENUE = 3_456_789, 7_654_321
IN_OTHER, OUT_OTHER = 612_345, 687_654
ROLES = {  # role -> telegram user id
    "unlinked": 9001, "recipient": 1001, "facilitator": 2001,
    "staff_other_kecamatan": 3002, "staff": 3001, "admin": 4001,
}  # fmt: skip
OUT_USERS = (1009, 2002)  # the outside recipient and facilitator: own drafts/flags there


def rupiah(n: int) -> str:
    return f"{n:,}".replace(",", ".")


async def seed(db: Database) -> None:
    fac_in = await add_facilitator(db, "PD-101", IN_KEC)
    fac_out = await add_facilitator(db, "PD-202", OUT_KEC)
    rin = await add_recipient(db, IN_NIK, name=IN_NAME, kec=IN_KEC, facilitator_id=fac_in)
    rout = await add_recipient(db, OUT_NIK, name=OUT_NAME, kec=OUT_KEC, facilitator_id=fac_out)
    for rid, revenue, other in ((rin, IN_REVENUE, IN_OTHER), (rout, OUT_REVENUE, OUT_OTHER)):
        for month in ("2024-02", "2024-03", "2024-04", "2024-05", "2024-06"):
            obs = Observation(month, "berjalan", revenue=revenue, costs=revenue - 2_400_000,
                              profit=2_400_000, other_income=other, household_size=4,
                              has_savings=True, keeps_books=True, income_sources=2,
                              equipment_ok=True)  # fmt: skip
            await add_report(db, rid, obs)
        await db.execute(
            "INSERT INTO report_flags (recipient_id, period, kind, details, created_at)"
            " VALUES (?, '2024-06', 'help_request', '{}', ?)",
            (rid, NOW),
        )
        await db.execute(
            "INSERT INTO graduation_cases (recipient_id, kind, status, score, period,"
            " statement, confirmed_at, created_at) VALUES (?, 'graduation', 'confirmed', 80,"
            " '2024-06', 'stabil', ?, ?)",
            (rid, NOW, NOW),
        )
        # an earlier graduation, approved, and its follow-up check-in (the "flw:" buttons)
        approved = await db.execute(
            "INSERT INTO graduation_cases (recipient_id, kind, status, score, period,"
            " decided_at, created_at) VALUES (?, 'graduation', 'approved', 80, '2024-01', ?, ?)",
            (rid, NOW, NOW),
        )
        await db.execute(
            "INSERT INTO followup_checkins (case_id, recipient_id, step, due_at, asked_at)"
            " VALUES (?, ?, 'm3', ?, ?)",
            (approved, rid, NOW, NOW),
        )
    await add_account(db, 1001, "recipient", recipient_id=rin)
    await add_account(db, 1009, "recipient", recipient_id=rout)
    await add_account(db, 2001, "facilitator", facilitator_id=fac_in)
    await add_account(db, 2002, "facilitator", facilitator_id=fac_out)
    await add_account(db, 3001, "staff", kec=IN_KEC)
    await add_account(db, 3002, "staff", kec=OUT_KEC)
    await add_account(db, 4001, "admin")
    await db.execute("UPDATE accounts SET consent_version = 'v1', consent_at = ?", (NOW,))
    for tg, kec in ((3001, IN_KEC), (3002, OUT_KEC)):  # a broadcast draft by each staff
        await db.execute(
            "INSERT INTO broadcasts (created_by, audience, audience_value, scope_kecamatan,"
            " text, status, created_at) VALUES ((SELECT id FROM accounts WHERE"
            " telegram_user_id = ?), 'kecamatan', ?, ?, 'Pasar murah', 'draft', ?)",
            (tg, kec, kec, NOW),
        )
    # someone else's open draft on each recipient (forged rep: buttons aim at these)
    for tg, rid in ((1001, rin), (1009, rout)):
        await db.execute(
            "INSERT INTO report_drafts (account_id, recipient_id, form, period, reporter_role,"
            " answers, current_key, step, created_at, updated_at) VALUES ((SELECT id FROM"
            " accounts WHERE telegram_user_id = ?), ?, 'monthly', '2024-06', 'recipient',"
            " '{\"status\": \"berjalan\"}', 'revenue', 1, ?, ?)",
            (tg, rid, NOW, NOW),
        )


async def ids(db: Database) -> dict[str, dict[str, int]]:
    out = {}
    for label, nik in (("in", IN_NIK), ("out", OUT_NIK)):
        rid = await db.fetchval("SELECT id FROM recipients WHERE nik = ?", (nik,))
        out[label] = {
            "recipient": rid,
            "case": await db.fetchval(
                "SELECT id FROM graduation_cases WHERE recipient_id = ?", (rid,)),
            "flag": await db.fetchval(
                "SELECT id FROM report_flags WHERE recipient_id = ?", (rid,)),
            "draft": await db.fetchval(
                "SELECT id FROM report_drafts WHERE recipient_id = ?", (rid,)),
            "approved": await db.fetchval(
                "SELECT id FROM graduation_cases WHERE recipient_id = ? AND status = 'approved'",
                (rid,)),
            "checkin": await db.fetchval(
                "SELECT id FROM followup_checkins WHERE recipient_id = ?", (rid,)),
        }  # fmt: skip
    return out


# The targets a role may see ("in"/"out" recipient); everything else must not reach them.
VISIBLE = {
    "unlinked": set(), "recipient": {"in"}, "facilitator": {"in"},
    "staff_other_kecamatan": {"out"}, "staff": {"in"}, "admin": {"in", "out"},
}  # fmt: skip
MARKERS = {
    "in": (IN_NAME, rupiah(IN_REVENUE), str(IN_REVENUE), rupiah(IN_OTHER), str(IN_OTHER)),
    "out": (OUT_NAME, rupiah(OUT_REVENUE), str(OUT_REVENUE), rupiah(OUT_OTHER), str(OUT_OTHER)),
}
NIK_RE = re.compile(rf"(?<!\d)(?:{IN_NIK}|{OUT_NIK})(?!\d)")


def command_cells(t: dict) -> dict[str, list[str]]:
    """command -> argument strings, one per target ('' when the command takes no target)."""
    nik = {"in": IN_NIK, "out": OUT_NIK}
    return {
        "skor": [f" {nik[x]}" for x in ("in", "out")],
        "konfirmasi": [f" {nik[x]} Sudah dikunjungi usaha stabil" for x in ("in", "out")],
        "setujui": [f" {t[x]['case']} layak" for x in ("in", "out")],
        "tolak": [f" {t[x]['case']} tunggu sebulan" for x in ("in", "out")],
        "akhiri": [f" {nik[x]} pindah Pindah ke Brebes" for x in ("in", "out")],
        "buka_kembali": [f" {nik[x]} Usaha tutup sejak bulan lalu" for x in ("in", "out")]
        + [f" {t[x]['approved']} Usaha tutup sejak bulan lalu" for x in ("in", "out")]
        + [" Sumirah", " Karsinah"],
        "ekspor": ["", " 2024-06"],
        "ringkasan": ["", " 2024-06"],
        "start": ["", " salahkode"],
    }


def callback_cells(t: dict) -> dict[str, list[str]]:
    """callback prefix -> forged data, aimed at the inside and the outside target."""
    cells: dict[str, list[str]] = {
        "onb:": ["onb:ack:old", "onb:unlink", "onb:unlink:no"],
        # a new account waiting for confirmation: none exists, so every press is refused alike
        "acc:": ["acc:ok:1", "acc:no:1", f"acc:ok:{2**63 - 1}"],
        "per:": ["per:2024-06", "per:2023-01"],
        "lap:": ["lap:now"],
        "msg:": ["msg:1", "msg:999", "msg:x"],
        "sia:": ["sia:aud:recipients", f"sia:val:kecamatan:{OUT_KEC}",
                 f"sia:val:kecamatan:{IN_KEC}", "sia:ok:1", "sia:ok:2", "sia:no:1", "sia:no:2",
                 "sia:ok:999"],
    }  # fmt: skip
    for x in ("in", "out"):
        r, case, flag, draft = (t[x][k] for k in ("recipient", "case", "flag", "draft"))
        cells.setdefault("inv:", []).append(f"inv:r:{r}")
        cells.setdefault("grd:", []).extend([f"grd:a:{case}", f"grd:r:{case}", f"grd:e:{r}"])
        cells.setdefault("flw:", []).extend(
            [f"flw:a:{t[x]['checkin']}:tutup", f"flw:a:{t[x]['checkin']}:cukup",
             f"flw:r:{t[x]['approved']}", f"flw:r:{case}"])  # fmt: skip
        cells.setdefault("rep:", []).extend(
            [f"rep:{draft}:1:!save", f"rep:{draft}:1:5000000", f"rep:{draft}:1:@revenue",
             f"rep:{draft}:1:!cancel_yes"])  # fmt: skip
        cells.setdefault("fac:", []).extend(
            [f"fac:lr:{r}", f"fac:kr:{r}", f"fac:f:{flag}", f"fac:fr:{flag}:0",
             f"fac:fv:{flag}", "fac:d:0", "fac:l:0"])  # fmt: skip
    return cells


async def protected_state(db: Database, recipient_ids: list[int], account_id: int | None):
    """What an actor must not change about recipients outside their scope."""
    others = await db.fetchall(
        "SELECT id, status, answers, step FROM report_drafts WHERE account_id IS NOT ? ORDER BY id",
        (account_id,),
    )
    state = {"drafts of other accounts": [tuple(r) for r in others]}
    broadcasts = await db.fetchall(
        "SELECT id, status, total FROM broadcasts WHERE created_by IS NOT ? ORDER BY id",
        (account_id,),
    )
    state["broadcasts of other accounts"] = [tuple(r) for r in broadcasts]
    if not recipient_ids:
        return state
    marks = ",".join("?" * len(recipient_ids))
    for table, cols in (
        ("graduation_cases", "id, status, decided_by, decision_reason"),
        ("recipients", "id, status, name, nik"),
        ("report_flags", "id, status, resolved_by, resolved_value"),
        ("report_drafts", "id, account_id, status, answers, step"),
        ("invites", "id, recipient_id"),
        ("visits", "id"),
        ("reports", "id, revision"),
        ("followup_checkins", "id, answer, answered_by"),
        ("followup_reopenings", "id"),
    ):
        key = "id" if table == "recipients" else "recipient_id"
        rows = await db.fetchall(
            f"SELECT {cols} FROM {table} WHERE {key} IN ({marks}) ORDER BY id", recipient_ids
        )
        state[table] = [tuple(r) for r in rows]
    return state


def seen_by(core, chat_id: int, before: dict[int, str]) -> tuple[str, dict[int, str]]:
    """Everything new or changed in the chat since `before`, including documents' contents."""
    now: dict[int, str] = {}
    for (chat, mid), stored in core.messages.items():
        if chat != chat_id or not stored.from_bot:
            continue
        data = stored.data
        parts = [data.get("text") or "", data.get("caption") or ""]
        markup = data.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []) + markup.get("keyboard", []):
            for b in row:
                parts.append(b.get("text", "") if isinstance(b, dict) else str(b))
                parts.append(b.get("callback_data", "") if isinstance(b, dict) else "")
        doc = data.get("document")
        if doc:
            parts.append(file_text(core.files.get(doc["file_id"])))
        now[mid] = "\n".join(parts)
    fresh = "\n".join(t for mid, t in now.items() if before.get(mid) != t)
    return fresh, now


def file_text(stored) -> str:
    if stored is None:
        return ""
    data = stored.data
    if data[:2] == b"PK":
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(
            " ".join("" if v is None else str(v) for v in row)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
        )
    return data.decode("utf-8", "replace")


async def test_every_role_command_and_callback_in_and_out_of_scope_no_leak(sandbox_factory, clock):
    import datetime as dt

    clock.set(dt.datetime(2024, 7, 3, 2, 0, tzinfo=dt.UTC))
    sb = await sandbox_factory(seed=seed)
    t = await ids(sb.db)
    users = {role: await sb.user(uid, f"U{uid}") for role, uid in ROLES.items()}
    for uid in OUT_USERS:
        await sb.user(uid, f"U{uid}")
    registered = registered_commands(sb.app)
    targeted = command_cells(t)
    commands = {c: targeted.get(c, [""]) for c in sorted(registered)}
    prefixes = {
        h.pattern.prefix + ":"  # bot.callbacks.matcher
        for hs in sb.app.handlers.values()
        for h in hs
        if isinstance(h, CallbackQueryHandler) and h.pattern is not None
    }
    forged = callback_cells(t)
    assert prefixes <= set(forged), f"add cells for callback prefixes {prefixes - set(forged)}"
    # destructive commands last, so earlier cells see the seeded state
    order = sorted(commands, key=lambda c: (c in ("setujui", "tolak", "akhiri"), c))
    cells = leaks = 0
    shown: dict[str, set[str]] = {role: set() for role in ROLES}
    problems: list[str] = []
    with ErrorCapture() as errors:
        for role, user in users.items():
            hidden = [t[x]["recipient"] for x in ("in", "out") if x not in VISIBLE[role]]
            forbidden = [m for x in ("in", "out") if x not in VISIBLE[role] for m in MARKERS[x]]
            account_id = await sb.db.fetchval(
                "SELECT id FROM accounts WHERE telegram_user_id = ?", (ROLES[role],)
            )
            _, seen = seen_by(sb.core, user.id, {})
            actions = [("command", f"/{c}{arg}") for c in order for arg in commands[c]]
            actions += [("callback", d) for p in sorted(forged) for d in forged[p]]
            for kind, what in actions:
                before = await protected_state(sb.db, hidden, account_id)
                if kind == "command":
                    await user.send(what)
                else:
                    mine = [r.message_id for r in user.replies()] or [None]
                    result = sb.core.inject_callback(user.id, mine[-1], what)
                    await sb.idle(result["update_id"])
                await sb.idle()
                fresh, seen = seen_by(sb.core, user.id, seen)
                toasts = " ".join(q["answer"] or "" for q in sb.core.callback_queries.values()
                                  if q["user_id"] == user.id)  # fmt: skip
                fresh += "\n" + toasts
                cells += 1
                cell = f"{role} {kind} {what!r}"
                if NIK_RE.search(fresh):
                    problems.append(f"{cell}: full NIK")
                problems += [f"{cell}: shows {m!r}" for m in forbidden if m in fresh]
                shown[role] |= {x for x in ("in", "out") if MARKERS[x][0] in fresh}
                after = await protected_state(sb.db, hidden, account_id)
                if before != after:
                    problems.append(f"{cell}: changed an out-of-scope record")
                # an out-of-scope draft by this account would be a write on their behalf
                if hidden and account_id is not None:
                    marks = ",".join("?" * len(hidden))
                    n = await sb.db.fetchval(
                        f"SELECT count(*) FROM report_drafts WHERE account_id = ?"
                        f" AND recipient_id IN ({marks})", (account_id, *hidden))  # fmt: skip
                    if n:
                        problems.append(f"{cell}: a draft on an out-of-scope recipient")
            leaks = len(problems)
        assert not errors.records, errors.describe()
    assert not generic_errors_sent(sb.core)
    COUNTS["access: role x command/callback x target cells"] += cells
    line = f"access matrix: {cells} cells checked, {leaks} leaks"
    SCENARIOS.append(line)
    print(line)
    assert not problems, "\n".join(problems)
    # sanity (the suite is not blind): people see who they may see, and staff can act
    assert shown["admin"] == {"in", "out"} and shown["staff_other_kecamatan"] == {"out"}
    assert shown["facilitator"] == shown["staff"] == {"in"}
    decided = await sb.db.fetchval(
        "SELECT status FROM graduation_cases WHERE id = ?", (t["in"]["case"],)
    )
    assert decided in ("approved", "rejected")
