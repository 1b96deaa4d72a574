"""The state machine is a table; test the whole cross product."""

from __future__ import annotations

import pytest

from core.lifecycle import IllegalMove, Move, MoveOutcome, Status, allowed_moves, check_move

LEGAL = {
    (Status.PENDING, Move.CONFIRM),
    (Status.PENDING, Move.CANCEL),
    (Status.CONFIRMED, Move.COMPLETE),
    (Status.CONFIRMED, Move.CANCEL),
    (Status.PENDING, Move.NO_SHOW),
    (Status.CONFIRMED, Move.NO_SHOW),
    (Status.PENDING, Move.COMPLETE),
}
REPEATS = {
    (Status.CONFIRMED, Move.CONFIRM),
    (Status.COMPLETED, Move.COMPLETE),
    (Status.CANCELLED, Move.CANCEL),
    (Status.NO_SHOW, Move.NO_SHOW),
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("move", list(Move))
def test_every_status_and_move_is_legal_repeated_or_refused(status: Status, move: Move) -> None:
    if (status, move) in LEGAL:
        assert check_move(status, move) is MoveOutcome.APPLIED
    elif (status, move) in REPEATS:
        assert check_move(status, move) is MoveOutcome.ALREADY
    else:
        with pytest.raises(IllegalMove) as caught:
            check_move(status, move)
        assert (caught.value.status, caught.value.move) == (status, move)


def test_final_statuses_offer_no_actions() -> None:
    assert allowed_moves(Status.COMPLETED) == []
    assert allowed_moves(Status.CANCELLED) == []
    assert allowed_moves(Status.NO_SHOW) == []
    assert Status.COMPLETED.is_final
    assert Status.CANCELLED.is_final
    assert Status.NO_SHOW.is_final


def test_pending_and_confirmed_offer_their_moves_and_a_no_show_last() -> None:
    assert allowed_moves(Status.PENDING) == [
        Move.CONFIRM,
        Move.COMPLETE,
        Move.CANCEL,
        Move.NO_SHOW,
    ]
    assert allowed_moves(Status.CONFIRMED) == [Move.COMPLETE, Move.CANCEL, Move.NO_SHOW]


def test_statuses_are_the_lowercase_words() -> None:
    assert [s.value for s in Status] == [
        "pending",
        "confirmed",
        "completed",
        "cancelled",
        "no_show",
    ]
    assert Status.NO_SHOW.label == "no-show" and Move.NO_SHOW.past == "marked a no-show"
