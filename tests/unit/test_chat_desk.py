"""The chat layer over in-memory fakes: linking by code, typed lines and taps from a linked
conversation, cards that went stale, and what each event posts."""

from __future__ import annotations

from typing import Any

import pytest

from core.cards import ActionId, Card
from core.chat import (
    Acted,
    ChatDesk,
    ChatKind,
    ConversationKey,
    NoticeKind,
    Person,
    Platform,
    ReasonPrompt,
    chat_for,
    code_digest,
    notice_text,
)
from core.clock import FixedClock
from core.desk import Desk
from core.errors import BusinessNotFound
from core.events import Event, EventKind
from core.lifecycle import Move, MoveOutcome, Status
from core.model import Actor, ActorKind, Business, Channel
from core.replies import BookingCard, MoveDone, Problem
from tests.conftest import NOW, OWNER, PAGE, new_booking
from tests.fakes import InMemoryBookingStore, InMemoryConversations

SALON = ConversationKey(Platform.SLACK, "T1", "C-salon")
FRONT_DESK = ConversationKey(Platform.SLACK, "T1", "C-front")
PHONE = ConversationKey(Platform.TELEGRAM, "", "4711")
RILEY = Person("U1", "Riley")
SAM = Person("U2", "Sam")
REFUSED = (
    "That code doesn't work: it may be mistyped, already used or expired. Ask for a new one "
    "(`juneplum business link-code <business id>`)."
)


@pytest.fixture
def store() -> InMemoryBookingStore:
    return InMemoryBookingStore()


@pytest.fixture
def conversations() -> InMemoryConversations:
    return InMemoryConversations()


@pytest.fixture
def chat(
    store: InMemoryBookingStore, conversations: InMemoryConversations, clock: FixedClock
) -> ChatDesk:
    return ChatDesk(Desk(store, clock), conversations, clock)


@pytest.fixture
def salon(store: InMemoryBookingStore) -> Business:
    return store.add_business("Plum Salon", "America/New_York")


@pytest.fixture
def kiwi(store: InMemoryBookingStore) -> Business:
    return store.add_business("Kiwi Tutors", "Pacific/Auckland")


async def linked(chat: ChatDesk, business: Business, key: ConversationKey = SALON) -> None:
    code = await chat.issue_link_code(business.id)
    notice = await chat.link(key, RILEY, code, title=f"#{key.chat_id}")
    assert notice.ok, notice.text


async def booked(chat: ChatDesk, business: Business, txn: str = "TX-1") -> int:
    booking, _ = await chat.desk.intake(business, new_booking(txn=txn), PAGE)
    return booking.id


async def status_of(chat: ChatDesk, business: Business, booking_id: int) -> Status:
    return (await chat.desk.booking(business, booking_id)).status


def pressed(card: Card, action: ActionId) -> str:
    (found,) = [a for a in card.actions if a.id is action]
    return found.value


# Linking


async def test_a_good_code_links_the_conversation_and_is_spent(
    chat: ChatDesk, conversations: InMemoryConversations, salon: Business
) -> None:
    code = await chat.issue_link_code(salon.id)
    notice = await chat.link(SALON, RILEY, f"  {code}\n", title="#salon")
    assert notice.ok and notice.business_id == salon.id
    assert notice.text == (
        "This conversation is now linked to “Plum Salon”. New bookings will appear here; "
        "type `help` for what you can ask."
    )
    assert await chat.business_of(SALON) == salon
    assert conversations.code_spent(code_digest(code))
    assert [(e.action, e.actor.person_id, e.actor.channel) for e in conversations.log] == [
        ("linked", "U1", Channel.SLACK)
    ]


async def test_a_used_expired_unknown_or_malformed_code_gets_one_answer_and_links_nothing(
    chat: ChatDesk, clock: FixedClock, salon: Business
) -> None:
    used = await chat.issue_link_code(salon.id)
    await chat.link(FRONT_DESK, SAM, used)
    expired = await chat.issue_link_code(salon.id)
    clock.advance(hours=24)
    for code in (used, expired, "A" * 24, "not a code!", "", "short", "x" * 65):
        notice = await chat.link(SALON, RILEY, code)
        assert (notice.ok, notice.text, notice.business_id) == (False, REFUSED, None), code
    assert await chat.business_of(SALON) is None


async def test_a_code_still_works_a_second_before_its_day_is_up(
    chat: ChatDesk, clock: FixedClock, salon: Business
) -> None:
    code = await chat.issue_link_code(salon.id)
    clock.advance(hours=24, seconds=-1)
    assert (await chat.link(SALON, RILEY, code)).ok


async def test_a_code_for_a_business_that_does_not_exist_is_never_issued(
    chat: ChatDesk,
) -> None:
    with pytest.raises(BusinessNotFound):
        await chat.issue_link_code(99)


async def test_a_conversation_linked_elsewhere_is_refused_and_the_code_is_kept_for_later(
    chat: ChatDesk, conversations: InMemoryConversations, salon: Business, kiwi: Business
) -> None:
    await linked(chat, salon)
    code = await chat.issue_link_code(kiwi.id)
    refused = await chat.link(SALON, SAM, code)
    assert not refused.ok
    assert refused.text == (
        "This conversation is already linked to “Plum Salon”. Send `/bookings disconnect` "
        "first to link it to another business."
    )
    assert not conversations.code_spent(code_digest(code))
    assert await chat.business_of(SALON) == salon
    await chat.unlink(SALON, SAM)
    relinked = await chat.link(SALON, SAM, code)
    assert relinked.ok and "now linked to “Kiwi Tutors”" in relinked.text


async def test_linking_to_the_same_business_again_says_alerts_resume(
    chat: ChatDesk, salon: Business
) -> None:
    await linked(chat, salon)
    again = await chat.link(SALON, SAM, await chat.issue_link_code(salon.id))
    assert again.ok and again.text == (
        "This conversation is linked to “Plum Salon” again; alerts resume here."
    )


async def test_unlinking_stops_the_conversation_acting_for_the_business(
    chat: ChatDesk, conversations: InMemoryConversations, salon: Business
) -> None:
    await linked(chat, salon, PHONE)
    notice = await chat.unlink(PHONE, SAM)
    assert notice.ok and notice.business_id == salon.id
    assert notice.text == (
        "This conversation is no longer linked to “Plum Salon”; nothing more is posted here."
    )
    assert await chat.business_of(PHONE) is None
    again = await chat.unlink(PHONE, SAM)
    assert (again.ok, again.text) == (False, "This conversation isn't linked to any business.")
    assert [e.action for e in conversations.log] == ["linked", "unlinked"]


async def test_an_unlinked_conversation_is_told_how_to_link_whatever_it_asks(
    chat: ChatDesk, salon: Business
) -> None:
    booking_id = await booked(chat, salon)
    told = Problem(
        "This conversation isn't linked to a business yet. Get a link code with "
        "`juneplum business link-code <business id>`, then send `/start <code>` here."
    )
    assert await chat.command(PHONE, SAM, f"confirm {booking_id}") == told
    assert await chat.tap(PHONE, SAM, f"confirm:{booking_id}:pending") == told
    assert await chat.cancel(PHONE, SAM, booking_id, Status.PENDING, None) == told
    assert await status_of(chat, salon, booking_id) is Status.PENDING


# Typed lines


async def test_a_typed_line_acts_for_the_linked_business_and_records_who_sent_it(
    chat: ChatDesk, salon: Business
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    reply = await chat.command(SALON, SAM, f"/bookings confirm {booking_id}")
    assert isinstance(reply, MoveDone) and reply.outcome is MoveOutcome.APPLIED
    assert reply.booking.history[-1].actor == Actor(ActorKind.OWNER, Channel.SLACK, "Sam", "U2")


# Taps


@pytest.mark.parametrize(
    "value",
    [
        "drop:1:pending",
        "confirm:1:nonsense",
        "confirm:1",
        "confirm:one:pending",
        "confirm:-1:pending",
        "confirm:1234567890123:pending",
        "confirm:1:pending:again",
        "x" * 300,
        "",
        None,
        42,
        b"confirm:1:pending",
        {"booking": 1},
        ["confirm:1:pending"],
    ],
)
async def test_a_forged_or_malformed_button_is_answered_in_words_and_changes_nothing(
    chat: ChatDesk, store: InMemoryBookingStore, salon: Business, value: Any
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    reply = await chat.tap(SALON, RILEY, value)
    assert reply == Problem("That button doesn't work any more. Type `help` for what I understand.")
    assert await status_of(chat, salon, booking_id) is Status.PENDING
    assert [e.kind for e in store.events] == [EventKind.CREATED]


async def test_a_button_for_another_business_s_booking_reads_as_no_such_booking(
    chat: ChatDesk, store: InMemoryBookingStore, salon: Business, kiwi: Business
) -> None:
    await linked(chat, salon)
    theirs = await booked(chat, kiwi)
    forged = await chat.tap(SALON, RILEY, f"confirm:{theirs}:pending")
    unknown = await chat.tap(SALON, RILEY, "confirm:999:pending")
    assert forged == Problem(f"There is no booking #{theirs}. Try `all` or `search <name>`.")
    assert unknown == Problem("There is no booking #999. Try `all` or `search <name>`.")
    assert await status_of(chat, kiwi, theirs) is Status.PENDING


async def test_confirm_from_a_card_confirms_and_hands_back_the_card_redrawn(
    chat: ChatDesk, salon: Business
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    card = await chat.desk.card(salon, booking_id)
    acted = await chat.tap(SALON, RILEY, pressed(card, ActionId.CONFIRM))
    assert isinstance(acted, Acted) and acted.ok and acted.card is not None
    assert (
        acted.text == f"#{booking_id} confirmed: Ana Silva · Haircut · Thu 26 Nov 2026, 10:00 EST"
    )
    assert acted.card.status is Status.CONFIRMED
    assert acted.card.status_line == "Confirmed by Riley via Slack · Wed 25 Nov 2026, 09:00 EST"
    assert [a.id for a in acted.card.actions] == [
        ActionId.COMPLETE,
        ActionId.CANCEL,
        ActionId.RESCHEDULE,
        ActionId.DETAILS,
    ]
    again = await chat.tap(SALON, RILEY, pressed(card, ActionId.CONFIRM))
    assert isinstance(again, Acted)
    assert again.text.startswith(f"#{booking_id} is already confirmed. Nothing changed.")


async def test_cancel_asks_for_a_reason_and_a_reason_over_500_characters_cancels_nothing(
    chat: ChatDesk, store: InMemoryBookingStore, salon: Business
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    asked = await chat.tap(SALON, RILEY, f"cancel:{booking_id}:pending")
    assert asked == ReasonPrompt(
        booking_id,
        Status.PENDING,
        f"Cancel #{booking_id} (Ana Silva · Haircut · Thu 26 Nov 2026, 10:00–10:45 EST)? Add "
        "a reason for the customer (optional, up to 500 characters), or skip.",
        500,
    )
    assert await status_of(chat, salon, booking_id) is Status.PENDING
    too_long = await chat.cancel(SALON, RILEY, booking_id, Status.PENDING, "x" * 501)
    assert too_long == Problem("Keep the reason under 500 characters.")
    assert await status_of(chat, salon, booking_id) is Status.PENDING
    assert [e.kind for e in store.events] == [EventKind.CREATED]


async def test_a_cancel_with_its_reason_cancels_and_says_where_to_refund(
    chat: ChatDesk, salon: Business
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    done = await chat.cancel(SALON, RILEY, booking_id, Status.PENDING, "  " + "y" * 500 + " ")
    assert isinstance(done, Acted) and done.ok and done.card is not None
    assert done.text == (
        f"#{booking_id} cancelled: Ana Silva · Haircut · Thu 26 Nov 2026, 10:00 EST\n"
        "Cancelling does not refund. To refund US$45.00, open transaction TX-1 in your PayPal "
        "dashboard: https://www.paypal.com/activity/payment/TX-1. Then press “Refund issued” "
        f"(or type `refunded {booking_id}`)."
    )
    assert [a.id for a in done.card.actions] == [ActionId.REFUND_ISSUED, ActionId.DETAILS]
    booking = await chat.desk.booking(salon, booking_id)
    assert booking.cancellation is not None and booking.cancellation.reason == "y" * 500


async def test_a_cancel_with_a_blank_reason_records_none(chat: ChatDesk, salon: Business) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    await chat.cancel(SALON, RILEY, booking_id, Status.PENDING, "   ")
    booking = await chat.desk.booking(salon, booking_id)
    assert booking.cancellation is not None and booking.cancellation.reason is None


async def test_a_stale_card_is_refused_and_the_card_as_it_is_now_handed_back(
    chat: ChatDesk, store: InMemoryBookingStore, salon: Business
) -> None:
    await linked(chat, salon)
    await linked(chat, salon, FRONT_DESK)
    booking_id = await booked(chat, salon)
    stale = await chat.desk.card(salon, booking_id)
    await chat.command(SALON, RILEY, f"confirm {booking_id}")

    late = await chat.tap(FRONT_DESK, SAM, pressed(stale, ActionId.CANCEL))
    assert isinstance(late, Acted) and not late.ok and late.card is not None
    assert late.text == (
        f"#{booking_id} was confirmed a moment ago by Riley via Slack, so your cancel was not "
        f"applied. Send `cancel {booking_id}` again if you still mean it."
    )
    assert late.card.status is Status.CONFIRMED
    assert [a.id for a in late.card.actions][:2] == [ActionId.COMPLETE, ActionId.CANCEL]
    finished = await chat.cancel(FRONT_DESK, SAM, booking_id, Status.PENDING, "late")
    assert isinstance(finished, Acted) and not finished.ok
    assert finished.card is not None and finished.card.status is Status.CONFIRMED
    assert await status_of(chat, salon, booking_id) is Status.CONFIRMED
    assert [e.kind for e in store.events] == [EventKind.CREATED, EventKind.CONFIRMED]


async def test_details_open_the_full_card_with_contact_and_history(
    chat: ChatDesk, salon: Business
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    reply = await chat.tap(SALON, RILEY, f"details:{booking_id}:pending")
    assert isinstance(reply, BookingCard)
    fields = {f.key: (f.value, f.brief) for f in reply.card.fields}
    assert fields["email"] == ("ana@example.com", False)
    assert fields["phone"] == ("+1 555 0100", False)
    assert reply.card.history == (
        "Wed 25 Nov 2026, 09:00 EST: created as pending by the booking page",
    )


async def test_refund_issued_from_a_card_is_marked_once(
    chat: ChatDesk, store: InMemoryBookingStore, salon: Business
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    done = await chat.cancel(SALON, RILEY, booking_id, Status.PENDING, None)
    assert isinstance(done, Acted) and done.card is not None
    marked = await chat.tap(SALON, SAM, pressed(done.card, ActionId.REFUND_ISSUED))
    again = await chat.tap(SALON, SAM, pressed(done.card, ActionId.REFUND_ISSUED))
    assert isinstance(marked, Acted) and marked.ok and marked.card is not None
    assert marked.text == f"#{booking_id}: refund marked issued. It is in the booking's history."
    assert (
        marked.card.refund == "Refund marked issued by Sam via Slack · Wed 25 Nov 2026, 09:00 EST"
    )
    assert [a.id for a in marked.card.actions] == [ActionId.DETAILS]
    assert isinstance(again, Acted) and not again.ok
    assert again.text == f"#{booking_id} is already marked refunded. Nothing changed."
    assert [e.kind for e in store.events].count(EventKind.REFUND_ISSUED) == 1


async def test_a_refund_button_for_a_booking_that_is_not_cancelled_changes_nothing(
    chat: ChatDesk, store: InMemoryBookingStore, salon: Business
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    reply = await chat.tap(SALON, SAM, f"refund-issued:{booking_id}:cancelled")
    assert isinstance(reply, Acted) and not reply.ok and reply.card is not None
    assert (
        reply.text == f"#{booking_id} is pending; only a cancelled booking can be marked refunded."
    )
    assert reply.card.status is Status.PENDING
    assert [e.kind for e in store.events] == [EventKind.CREATED]


async def test_a_cancel_button_for_a_completed_booking_does_not_ask_for_a_reason(
    chat: ChatDesk, salon: Business
) -> None:
    await linked(chat, salon)
    booking_id = await booked(chat, salon)
    await chat.command(SALON, RILEY, f"confirm {booking_id}")
    await chat.command(SALON, RILEY, f"complete {booking_id}")
    reply = await chat.tap(SALON, SAM, f"cancel:{booking_id}:completed")
    assert isinstance(reply, Acted) and not reply.ok
    assert reply.text == f"#{booking_id} is completed; it can't be cancelled."


# What each event posts


def event(
    kind: EventKind, actor: Actor, data: dict[str, Any] | None = None, booking_id: int = 1
) -> Event:
    return Event(kind, 1, booking_id, NOW, actor, data or {}, id=1)


CUSTOMER = Actor(ActorKind.CUSTOMER, Channel.API, "Ana Silva")
SYSTEM = Actor(ActorKind.SYSTEM, Channel.SYSTEM, "scheduler")
RILEY_ON_SLACK = Actor(ActorKind.OWNER, Channel.SLACK, "Riley", "U1")
MOVES = [EventKind.CONFIRMED, EventKind.COMPLETED, EventKind.CANCELLED]


@pytest.mark.parametrize("actor", [PAGE, CUSTOMER, SYSTEM, OWNER, RILEY_ON_SLACK])
def test_a_new_booking_posts_its_card_whoever_made_it(actor: Actor) -> None:
    assert chat_for(event(EventKind.CREATED, actor)) == [(ChatKind.CARD, {})]


@pytest.mark.parametrize("kind", MOVES)
@pytest.mark.parametrize("actor", [OWNER, RILEY_ON_SLACK])
def test_an_owner_s_change_only_redraws_the_card(kind: EventKind, actor: Actor) -> None:
    assert chat_for(event(kind, actor, {"from": "pending", "to": "x"})) == [(ChatKind.REDRAW, {})]


@pytest.mark.parametrize("kind", MOVES)
@pytest.mark.parametrize("actor", [CUSTOMER, SYSTEM, PAGE])
def test_a_change_the_owners_did_not_make_redraws_the_card_and_posts_a_notice(
    kind: EventKind, actor: Actor
) -> None:
    said = chat_for(event(kind, actor, {"reason": "sick"}))
    assert said == [
        (ChatKind.REDRAW, {}),
        (
            ChatKind.NOTICE,
            {
                "notice": NoticeKind.CHANGED.value,
                "actor": actor.describe(),
                "at": NOW.isoformat(),
                "what": kind.value.removeprefix("booking."),
                "reason": "sick",
            },
        ),
    ]


@pytest.mark.parametrize("actor", [OWNER, RILEY_ON_SLACK, CUSTOMER, SYSTEM])
def test_a_refund_marked_issued_redraws_the_card_and_posts_a_notice(actor: Actor) -> None:
    said = chat_for(event(EventKind.REFUND_ISSUED, actor))
    assert said == [
        (ChatKind.REDRAW, {}),
        (
            ChatKind.NOTICE,
            {
                "notice": NoticeKind.REFUND_ISSUED.value,
                "actor": actor.describe(),
                "at": NOW.isoformat(),
                "what": "refund marked issued",
            },
        ),
    ]


@pytest.mark.parametrize("actor", [SYSTEM, PAGE, OWNER])
def test_an_email_that_failed_for_good_posts_only_a_notice_with_a_short_error(
    actor: Actor,
) -> None:
    failed = event(EventKind.MAIL_FAILED, actor, {"kind": "confirmed", "error": "550 " * 100})
    ((kind, data),) = chat_for(failed)
    assert kind is ChatKind.NOTICE
    assert data == {"notice": "mail-failed", "kind": "confirmed", "error": ("550 " * 100)[:200]}


async def test_the_notices_read_as_sentences_about_the_booking(
    chat: ChatDesk, salon: Business
) -> None:
    booking_id = await booked(chat, salon)
    booking = await chat.desk.booking(salon, booking_id)
    summary = "Ana Silva · Haircut · Thu 26 Nov 2026, 10:00–10:45 EST"
    cancelled = event(EventKind.CANCELLED, CUSTOMER, {"reason": "sick"}, booking_id)
    (_, (_, changed)) = chat_for(cancelled)
    assert notice_text(changed, booking, salon) == (
        f"#{booking_id} cancelled by Ana Silva (customer) via the booking page, "
        f"09:00 EST — “sick” ({summary})"
    )
    refunded = event(EventKind.REFUND_ISSUED, RILEY_ON_SLACK, booking_id=booking_id)
    (_, (_, marked)) = chat_for(refunded)
    assert notice_text(marked, booking, salon) == (
        f"#{booking_id} refund marked issued by Riley via Slack, 09:00 EST ({summary})"
    )
    failed = event(EventKind.MAIL_FAILED, SYSTEM, {"kind": "confirmed", "error": "550 No"})
    ((_, mail),) = chat_for(failed)
    assert notice_text(mail, booking, salon) == (
        f"Email to Ana Silva failed (#{booking_id}, booking confirmed): 550 No\n"
        "Write to them yourself: ana@example.com · +1 555 0100"
    )


async def test_a_customer_s_cancel_reaches_the_chat_as_a_redraw_and_a_notice(
    chat: ChatDesk, store: InMemoryBookingStore, salon: Business
) -> None:
    booking_id = await booked(chat, salon)
    await chat.desk.customer_cancel(salon, booking_id, "sick", Channel.API)
    owner_cancel = await booked(chat, salon, txn="TX-2")
    await chat.desk.act(salon, owner_cancel, Move.CANCEL, OWNER)
    kinds = [[k for k, _ in chat_for(e)] for e in store.events]
    assert kinds == [
        [ChatKind.CARD],
        [ChatKind.REDRAW, ChatKind.NOTICE],
        [ChatKind.CARD],
        [ChatKind.REDRAW],
    ]
