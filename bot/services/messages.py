"""Nothing said to the bot is lost: a family's free words reach its facilitator, and back.

- `forward_from_family`: a linked recipient's text, photo (outside a form) or voice note is
  planned in the outbox for the recipient's facilitator (kind 'notice', step
  'family_message:<id>', with a "Balas" button), with the family's name and desa;
- the facilitator answers with Telegram's Reply on that message (`reply_target` finds it from
  outbox.telegram_message_id) or with the "Balas" button (`start_reply` keeps a reply_waits row:
  the next text is the reply, state as data);
- `send_reply`: the reply is planned in the outbox for the family.

Telegram's limits are checked before anything is written: a text of 4096 characters, a photo
caption of 1024, a file of 20 MB that a bot may pass on. A refusal is a `MessageRefused` whose
key names a part of templates/<lang>/family_message_error.j2; nothing half is stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.callbacks import encode
from bot.db import Database
from bot.render import render
from bot.services.accounts import Account
from bot.services.cycle import PlannedMessage, enqueue, iso
from bot.services.notices import PRIORITY_URGENT

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
FILE_LIMIT = 20_000_000  # what a bot may download / pass on by the Bot API
REPLY_WAIT = dt.timedelta(minutes=30)  # a "Balas" press waits this long for the reply text
KINDS = ("text", "photo", "voice")


class MessageRefused(Exception):
    """Why a message cannot be passed on; `key` and `params` for the template."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Incoming:
    """What a person sent: kind 'text' | 'photo' | 'voice'; body the text or caption."""

    kind: str
    body: str | None
    file_id: str | None = None
    file_size: int | None = None
    message_id: int | None = None  # the person's Telegram message id (dedupes a retry)


@dataclass(frozen=True)
class Passed:
    """A message planned for the other side: to whom (their name) and the row id."""

    message_id: int
    to_name: str
    new: bool


def _header_room(limit: int, header: str) -> int:
    return max(0, limit - len(header) - 2)


def _check_limits(item: Incoming, header: str) -> None:
    if item.kind not in KINDS:
        raise MessageRefused("kind")
    if item.file_size is not None and item.file_size > FILE_LIMIT:
        raise MessageRefused("file_too_large", limit_mb=FILE_LIMIT // 1_000_000)
    limit = TEXT_LIMIT if item.kind == "text" else CAPTION_LIMIT
    room = _header_room(limit, header)
    if item.body and len(item.body) > room:
        raise MessageRefused("too_long", limit=room, caption=item.kind != "text")
    if item.kind == "text" and not (item.body or "").strip():
        raise MessageRefused("empty")


async def _family(db: Database, account: Account) -> Any:
    return await db.fetchone(
        "SELECT r.name, coalesce(d.name, '-') AS desa, r.programme, f.name AS facilitator,"
        " f.phone AS facilitator_phone, fa.id AS fac_account, fa.chat_id AS fac_chat,"
        " fa.language AS fac_language, fa.reachable AS fac_reachable"
        " FROM recipients r LEFT JOIN desa d ON d.id = r.desa_id"
        " LEFT JOIN facilitators f ON f.id = r.facilitator_id"
        " LEFT JOIN accounts fa ON fa.facilitator_id = f.id AND fa.role = 'facilitator'"
        " WHERE r.id = ?",
        (account.recipient_id,),
    )


def _button(label_name: str, language: str, data: str) -> dict[str, Any]:
    label = render("family_label", language, name=label_name)
    return {"inline_keyboard": [[{"text": label, "callback_data": data}]]}


async def _plan(
    conn: Any, now: dt.datetime, row_id: int, step: str, chat_id: int, account_id: int,
    text: str, item: Incoming, markup: dict[str, Any] | None, who: str,
) -> None:  # fmt: skip
    attachment: dict[str, Any] = {"type": item.kind}
    if item.kind != "text" and item.file_id:
        attachment["file_id"] = item.file_id
    if markup:
        attachment["reply_markup"] = markup
    message = PlannedMessage(
        "notice", f"acc:{account_id}", "-", step, chat_id, account_id, text, PRIORITY_URGENT,
        now, who, attachment=attachment,
    )  # fmt: skip
    await enqueue(conn, message, now)


async def _insert(
    conn: Any, now: dt.datetime, direction: str, recipient_account: int, facilitator_account: int,
    item: Incoming, reply_to: int | None,
) -> tuple[int, bool]:  # fmt: skip
    """The family_messages row (a retried update finds the one already written)."""
    if item.message_id is not None:
        async with conn.execute(
            "SELECT id FROM family_messages WHERE direction = ? AND recipient_account_id = ?"
            " AND telegram_message_id = ?",
            (direction, recipient_account, item.message_id),
        ) as cur:
            found = await cur.fetchone()
        if found is not None:
            return found[0], False
    async with conn.execute(
        "INSERT INTO family_messages (recipient_account_id, facilitator_account_id, direction,"
        " kind, body, file_id, telegram_message_id, outbox_step, reply_to, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
        (recipient_account, facilitator_account, direction, item.kind, item.body, item.file_id,
         item.message_id, reply_to, iso(now)),
    ) as cur:  # fmt: skip
        row_id = cur.lastrowid
    step = f"family_message:{row_id}"
    await conn.execute("UPDATE family_messages SET outbox_step = ? WHERE id = ?", (step, row_id))
    return row_id, True


async def forward_from_family(
    db: Database, now: dt.datetime, account: Account, item: Incoming
) -> Passed:
    """Plan a recipient's message for their facilitator; MessageRefused('no_facilitator')
    when the facilitator has no reachable account (the family is told whom to call)."""
    if account.role != "recipient" or account.recipient_id is None:
        raise MessageRefused("not_family")
    fam = await _family(db, account)
    if fam is None or fam["fac_account"] is None or not fam["fac_reachable"]:
        raise MessageRefused(
            "no_facilitator",
            facilitator=fam["facilitator"] if fam else None,
            phone=dial(fam["facilitator_phone"]) if fam else None,
        )
    lang = fam["fac_language"]
    ctx = {"name": fam["name"], "desa": fam["desa"], "programme": fam["programme"],
           "kind": item.kind}  # fmt: skip
    header = render("family_message_forward", lang, body="", **ctx)
    _check_limits(item, header)
    text = render("family_message_forward", lang, body=item.body or "", **ctx)
    async with db.transaction() as conn:
        row_id, new = await _insert(conn, now, "in", account.id, fam["fac_account"], item, None)
        if new:
            await _plan(conn, now, row_id, f"family_message:{row_id}", fam["fac_chat"],
                        fam["fac_account"], text, item,
                        _button("reply", lang, encode("msg", "", row_id)),
                        f"facilitator (acc {fam['fac_account']}) <- {fam['name']}")  # fmt: skip
    return Passed(row_id, fam["facilitator"], new)


async def _message_for(db: Database, account: Account, message_id: int) -> Any:
    row = await db.fetchone(
        "SELECT m.id, m.recipient_account_id, m.facilitator_account_id, r.name, a.chat_id,"
        " a.language FROM family_messages m JOIN accounts a ON a.id = m.recipient_account_id"
        " JOIN recipients r ON r.id = a.recipient_id WHERE m.id = ? AND m.direction = 'in'",
        (message_id,),
    )
    if row is None or row["facilitator_account_id"] != account.id:
        raise MessageRefused("not_yours")
    return row


async def reply_target(db: Database, account: Account, replied_message_id: int) -> int | None:
    """The family message behind a Telegram message the facilitator replied to, if any."""
    if account.role != "facilitator":
        return None
    return await db.fetchval(
        "SELECT m.id FROM outbox o JOIN family_messages m ON m.outbox_step = o.step"
        " WHERE o.kind = 'notice' AND o.chat_id = ? AND o.telegram_message_id = ?"
        " AND o.person = ? AND m.direction = 'in' AND m.facilitator_account_id = ?",
        (account.chat_id, replied_message_id, f"acc:{account.id}", account.id),
    )


async def start_reply(db: Database, now: dt.datetime, account: Account, message_id: int) -> str:
    """'Balas' pressed: the facilitator's next text is the reply; returns the family's name."""
    row = await _message_for(db, account, message_id)
    await db.execute(
        "INSERT INTO reply_waits (account_id, message_id, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (account_id) DO UPDATE SET message_id = excluded.message_id,"
        " created_at = excluded.created_at",
        (account.id, message_id, iso(now)),
    )
    return row["name"]


async def waiting_reply(db: Database, now: dt.datetime, account: Account) -> int | None:
    """The family message a facilitator is replying to after 'Balas' (fresh ones only)."""
    row = await db.fetchone(
        "SELECT message_id, created_at FROM reply_waits WHERE account_id = ?", (account.id,)
    )
    if row is None:
        return None
    if dt.datetime.fromisoformat(row["created_at"]) < now - REPLY_WAIT:
        await db.execute("DELETE FROM reply_waits WHERE account_id = ?", (account.id,))
        return None
    return row["message_id"]


async def send_reply(
    db: Database, now: dt.datetime, account: Account, message_id: int, item: Incoming
) -> Passed:
    """The facilitator's reply to a family message, planned in the outbox for the family."""
    row = await _message_for(db, account, message_id)
    fac_name = await db.fetchval(
        "SELECT name FROM facilitators WHERE id = ?", (account.facilitator_id,)
    )
    lang = row["language"]
    header = render("family_message_reply", lang, facilitator=fac_name, body="", kind=item.kind)
    _check_limits(item, header)
    text = render("family_message_reply", lang, facilitator=fac_name, body=item.body or "",
                  kind=item.kind)  # fmt: skip
    async with db.transaction() as conn:
        row_id, new = await _insert(conn, now, "out", row["recipient_account_id"], account.id,
                                    item, message_id)  # fmt: skip
        if new:
            await _plan(conn, now, row_id, f"family_message:{row_id}", row["chat_id"],
                        row["recipient_account_id"], text, item, None,
                        f"recipient {row['name']} <- facilitator (acc {account.id})")  # fmt: skip
        await conn.execute("DELETE FROM reply_waits WHERE account_id = ?", (account.id,))
    return Passed(row_id, row["name"], new)


async def cancel_reply(db: Database, account: Account) -> bool:
    """Forget a pending 'Balas' (the facilitator typed /batal)."""
    return bool(await db.update("DELETE FROM reply_waits WHERE account_id = ?", (account.id,)))


@dataclass(frozen=True)
class Contact:
    name: str | None
    phone: str | None  # as people dial it: 0812...


async def facilitator_contact(db: Database, account: Account) -> Contact | None:
    """A family's facilitator, for /bantuan (None for other roles)."""
    if account.role != "recipient" or account.recipient_id is None:
        return None
    row = await db.fetchone(
        "SELECT f.name, f.phone FROM recipients r LEFT JOIN facilitators f"
        " ON f.id = r.facilitator_id WHERE r.id = ?",
        (account.recipient_id,),
    )
    if row is None:
        return Contact(None, None)
    return Contact(row["name"], dial(row["phone"]))


def dial(phone: str | None) -> str | None:
    """A stored '62...' number as people dial it ('0...')."""
    if phone and phone.startswith("62"):
        return "0" + phone[2:]
    return phone
