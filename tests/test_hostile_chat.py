"""Hostile input through the real bot (sandbox): random texts, media, forged callbacks, edited
messages, group and channel posts, from linked and unlinked accounts.

One sandbox per test function, many hypothesis examples against it. After every example: no
exception reached the error handler (no ERROR log, no 'Maaf, terjadi gangguan' message), every
private command and every linked person's private message got an answer, every callback of a
known prefix was answered, and the database holds no partial record (tests/hostile_helpers.py).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile_helpers import ErrorCapture, generic_errors_sent, integrity_problems
from tests.report_seed import add_account, seed_basic
from tests.suite_counts import COUNTS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

SHARED = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (64).to_bytes(4, "big") * 2 + b"\x00" * 200
GROUP, CHANNEL = -700, -1001700
RECIPIENTS, FACILITATOR, STAFF, UNLINKED = (1001, 1002, 1003), 2001, 3001, 9001
PEOPLE = (*RECIPIENTS, FACILITATOR, STAFF, UNLINKED)
PREFIXES = ("onb:", "inv:", "grd:", "rep:", "per:", "fac:", "sia:")
COMMANDS = ("start", "bantuan", "help", "profil", "undang", "ringkasan", "ekspor", "lapor",
            "lanjut", "batal", "daftar", "kunjungan", "skor", "kemajuan", "graduasi",
            "konfirmasi", "setujui", "tolak", "akhiri", "berhenti", "mulai",
            "siaran")  # fmt: skip

WEIRD = st.sampled_from(
    ["\u200b", "\u200d", "\u202e", "\u202b\u0627\u0644\u0633\u0644\u0627\u0645", "\ufeff",
     "\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u0660\u0661", "\uff11\uff10",
     "1,5", "2 jt", "Rp1.500.000", "-500", "99999999999999999999", "ya", "tidak", "/", "@bot",
     "<b>x</b>", "{{ x }}", "%s", "\\", "'; DROP TABLE reports;--", "\n", "3328064211650001"]
)  # fmt: skip
TEXT = st.one_of(
    st.text(min_size=1, max_size=80),
    st.lists(st.one_of(WEIRD, st.text(max_size=4)), min_size=1, max_size=12).map("".join),
    st.just("x" * 4096),
    st.just("\U0001f600" * 2048),  # 4096 UTF-16 units, Telegram's limit
).filter(lambda t: t.strip())
ARGS = st.one_of(st.just(""), TEXT.map(lambda t: " " + t.replace("\n", " ")[:200]),
                 st.integers(-(10**20), 10**20).map(lambda n: f" {n}"))  # fmt: skip
FORGED = st.one_of(
    st.text(max_size=64).filter(lambda d: len(d.encode()) <= 64),
    st.tuples(st.sampled_from(PREFIXES), st.text(max_size=40)).map("".join),
    st.tuples(st.sampled_from(["rep:", "fac:d:", "fac:l:", "fac:lr:", "fac:kr:", "fac:f:",
                               "fac:fr:", "fac:fv:", "grd:a:", "grd:r:", "inv:r:", "per:",
                               "onb:ack:", "onb:unlink", "fac:k:", "sia:aud:", "sia:val:",
                               "sia:ok:", "sia:no:"]),
              st.lists(st.one_of(st.integers(-5, 2**64 + 1), st.sampled_from([2**63, 2**64]),
                                 st.sampled_from(
                  ["!save", "!edit", "!cancel", "!cancel_yes", "@revenue", "_skip", "ya",
                   "2024-01", "9999-99", "1", "0", ""])), max_size=4)).map(
        lambda t: (t[0] + ":".join(str(x) for x in t[1]))[:64]),
)  # fmt: skip
ACTION = st.one_of(
    st.tuples(st.just("text"), st.sampled_from(PEOPLE), TEXT),
    st.tuples(
        st.just("command"), st.sampled_from(PEOPLE), st.tuples(st.sampled_from(COMMANDS), ARGS)
    ),  # fmt: skip
    st.tuples(
        st.just("media"),
        st.sampled_from(PEOPLE),
        st.sampled_from(
            ["sticker", "photo", "document", "voice", "location", "contact", "forward"]
        ),
    ),  # fmt: skip
    st.tuples(st.just("button"), st.sampled_from(PEOPLE), st.integers(0, 30)),
    st.tuples(st.just("forged"), st.sampled_from(PEOPLE), FORGED),
    st.tuples(st.just("edit"), st.sampled_from(PEOPLE), TEXT),
    st.tuples(
        st.just("group"), st.sampled_from(PEOPLE), st.tuples(st.sampled_from(COMMANDS), ARGS)
    ),  # fmt: skip
    st.tuples(st.just("channel"), st.just(0), TEXT),
)


async def seed(db):
    await seed_basic(db)
    await add_account(db, STAFF, "staff", name="Staf")


@pytest.fixture
async def world(sandbox_factory):
    sb = await sandbox_factory(seed=seed)
    users = {uid: await sb.user(uid, f"U{uid}") for uid in PEOPLE}
    group = await sb.group(GROUP, "Kelompok", list(users.values()))
    sb.core.add_channel(CHANNEL, "Kanal")
    # Everyone linked starts in a form, so random input lands on every question kind.
    for uid in (*RECIPIENTS, FACILITATOR):
        await users[uid].send("/lapor")
    return sb, users, group


async def is_linked(db, uid: int) -> bool:
    """Whether this Telegram account is linked to a record (unlinking detaches it)."""
    return bool(await db.fetchval("SELECT 1 FROM accounts WHERE telegram_user_id = ?", (uid,)))


async def perform(sb, users, group, action) -> tuple[str, bool]:
    """Do one action; return (what, whether the bot had to answer it)."""
    kind, uid, arg = action
    core = sb.core
    user = users.get(uid)
    # Linked now, not at the start: a random press can unlink anyone (/profil -> unlink).
    linked = await is_linked(sb.db, uid)
    if kind == "text":
        replies = await user.send(arg)
        return kind, (not linked) or bool(replies)
    if kind == "command":
        name, args = arg
        replies = await user.send(f"/{name}{args}")
        return kind, bool(replies)
    if kind == "media":
        send = {
            "sticker": user.send_sticker, "voice": user.send_voice,
            "photo": lambda: user.send_photo(PNG),
            "document": lambda: user.send_document(b"%PDF-1.4 x", file_name="x.pdf"),
            "location": lambda: user.send_location(-6.98, 109.14),
            "contact": lambda: user.send_contact("+6281234567890", "X"),
            "forward": lambda: user.forward("Rp 1.000.000", from_user="Orang"),
        }[arg]  # fmt: skip
        replies = await send()
        return kind, (not linked) or bool(replies)
    if kind == "button":  # a real button of the person's chat (advances forms legitimately)
        await sb.idle()
        buttons = [
            (r.message_id, b["callback_data"])
            for r in user.replies()[-3:]
            for row in r.buttons or []
            for b in row
            if b.get("callback_data")
        ]
        if not buttons:
            return kind, True
        message_id, data = buttons[arg % len(buttons)]
        result = core.press(uid, message_id, data)
        await sb.idle(result["update_id"])
        return kind, core.callback_queries[result["callback_query_id"]]["answered"]
    if kind == "forged":
        mine = [r.message_id for r in user.replies()]
        message_id = mine[-1] if mine and len(arg) % 2 else 987654
        result = core.inject_callback(uid, message_id, arg)
        await sb.idle(result["update_id"])
        answered = core.callback_queries[result["callback_query_id"]]["answered"]
        return kind, answered or not arg.startswith(PREFIXES)
    if kind == "edit":
        sent = [m for (chat, _), m in core.messages.items()
                if chat == uid and not m.from_bot and "text" in m.data]  # fmt: skip
        if not sent:
            return kind, True
        result = core.edit(uid, sent[len(arg) % len(sent)].message_id, arg)
        await sb.idle(result["update_id"])
        return kind, True  # an edit may be ignored (silence is the design)
    if kind == "group":
        name, args = arg
        await group.send(user, f"/{name}{args}")
        return kind, True
    if kind == "channel":
        await sb.channel_post(CHANNEL, arg)
        return kind, True
    raise AssertionError(kind)


async def check(sb, errors: ErrorCapture, action, answered: bool) -> None:
    assert not errors.records, (action, errors.describe())
    assert not generic_errors_sent(sb.core), action
    assert answered, f"the bot did not answer {action!r}"


@SHARED
@given(actions=st.lists(ACTION, min_size=1, max_size=6))
async def test_random_input_never_crashes_nor_leaves_a_partial_record(world, actions):
    sb, users, group = world
    with ErrorCapture() as errors:
        for action in actions:
            COUNTS[f"hostile: chat {action[0]}"] += 1
            _, answered = await perform(sb, users, group, action)
            await check(sb, errors, action, answered)
    problems = await integrity_problems(sb.db)
    assert not problems, problems


@SHARED
@given(data=FORGED, who=st.sampled_from(PEOPLE))
async def test_forged_and_expired_callback_data(world, data, who):
    """Callback data a client made up, or kept from an old message, pressed by anyone."""
    sb, users, group = world
    COUNTS["hostile: chat forged callback"] += 1
    with ErrorCapture() as errors:
        action = ("forged", who, data)
        _, answered = await perform(sb, users, group, action)
        await check(sb, errors, action, answered)
    assert not await integrity_problems(sb.db)


# Values forged on the LIVE draft and step (the ones a real button of the person's chat carries
# now), so the forgery reaches the form engine instead of the stale-button check.
LIVE_VALUES = st.one_of(
    st.sampled_from(["\u00b2", "\u0661", "\uff11", str(2**63), str(2**64), str(2**63 - 1),
                     "-1", "", "!save", "!edit", "!cancel", "!cancel_yes", "!back", "@revenue",
                     "@nope", "_skip", "ya", "berjalan", "today", "1,5", "0" * 40]),
    st.text(max_size=30),
)  # fmt: skip
LIVE_STEPS = st.sampled_from([0, -1, 1, 2**63, 2**64, "\u00b2", ""])


@SHARED
@given(who=st.sampled_from((*RECIPIENTS, FACILITATOR)), value=LIVE_VALUES, step=LIVE_STEPS,
       draft=st.sampled_from(["live", 2**63, 2**64]))  # fmt: skip
async def test_forged_values_on_the_live_draft_and_step(world, who, value, step, draft):
    sb, users, group = world
    COUNTS["hostile: chat forged on the live draft"] += 1
    live = await sb.db.fetchone(
        "SELECT d.id, d.step FROM report_drafts d JOIN accounts a ON a.id = d.account_id"
        " WHERE a.telegram_user_id = ? AND d.status = 'open'",
        (who,),
    )
    if live is None:  # saved or cancelled by an earlier example: open the form again
        await users[who].send("/lapor")
        if who == FACILITATOR:
            await users[who].press(users[who].buttons()[0])
        live = await sb.db.fetchone(
            "SELECT d.id, d.step FROM report_drafts d JOIN accounts a ON a.id = d.account_id"
            " WHERE a.telegram_user_id = ? AND d.status = 'open'",
            (who,),
        )
    assert live is not None
    draft_id = live["id"] if draft == "live" else draft
    step_no = live["step"] + step if isinstance(step, int) and abs(step) <= 1 else step
    data = f"rep:{draft_id}:{step_no}:{value}"[:64]
    with ErrorCapture() as errors:
        action = ("forged", who, data)
        _, answered = await perform(sb, users, group, action)
        await check(sb, errors, action, answered)
    assert not await integrity_problems(sb.db)


async def test_a_whole_report_under_interleaved_garbage_saves_a_complete_record(world):
    """Siti answers legitimately between random garbage; the saved report is complete."""
    sb, users, group = world
    siti = users[1001]
    garbage = ["\u202e\u200b", "\U0001f600" * 2048, "/lapor", "-1 jt", "x" * 4096]
    with ErrorCapture() as errors:
        for _ in range(80):
            last = (await siti.messages())[-1]
            if "Simpan" in last.labels:
                await siti.press("Simpan")
                break
            for junk in garbage:
                await siti.send(junk)
                COUNTS["hostile: chat text"] += 1
            await siti.send_sticker()
            last = (await siti.messages())[-1]
            answers = [x for x in last.labels if x != "< Kembali"]  # every question has it
            if answers:
                await siti.press(answers[0])
            else:
                await siti.send("5")
        assert not errors.records, errors.describe()
    assert not generic_errors_sent(sb.core)
    assert await sb.db.fetchval("SELECT count(*) FROM reports WHERE recipient_id ="
                                " (SELECT recipient_id FROM accounts WHERE"
                                " telegram_user_id = 1001)") == 1  # fmt: skip
    assert not await integrity_problems(sb.db)


async def test_a_person_unlinked_by_random_presses_is_then_treated_as_unlinked(world):
    """The presses /profil -> unlink -> yes are within the random suite's reach; after them the
    facilitator is an unlinked stranger, whose plain text the bot may leave unanswered."""
    sb, users, group = world
    facilitator = users[FACILITATOR]
    with ErrorCapture() as errors:
        await facilitator.send("/profil")
        await facilitator.press("Putuskan akun dari bot")
        await facilitator.press("Ya, putuskan")
        assert not await is_linked(sb.db, FACILITATOR)
        action = ("text", FACILITATOR, "0")
        _, answered = await perform(sb, users, group, action)
        await check(sb, errors, action, answered)
        # a command still gets an answer (the unlinked greeting)
        action = ("command", FACILITATOR, ("start", ""))
        _, answered = await perform(sb, users, group, action)
        await check(sb, errors, action, answered)
    assert not await integrity_problems(sb.db)
