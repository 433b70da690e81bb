"""chat.backlog: what a client has read is what it proved by echoing a ping's token."""

import sys

from chat.backlog import MAX_PINGS, Backlog


def test_an_echoed_ping_confirms_what_was_written_before_it_and_no_more():
    backlog = Backlog(limit=100)
    backlog.wrote(70)
    token = backlog.ping()
    backlog.wrote(40)
    assert backlog.unread == 110 and backlog.over()
    backlog.answered(token)
    assert backlog.unread == 40 and not backlog.over()


def test_a_blind_or_stale_pong_confirms_nothing():
    backlog = Backlog(limit=100)
    backlog.wrote(70)
    token = backlog.ping()
    backlog.wrote(40)
    for guess in (None, "", "0" * 16, 1):
        backlog.answered(guess)
    assert backlog.unread == 110
    backlog.answered(token)
    backlog.answered(token)  # Answered already: a replay changes nothing.
    assert backlog.unread == 40


def test_a_later_pong_answers_the_pings_before_it():
    backlog = Backlog(limit=100)
    backlog.wrote(10)
    backlog.ping()
    backlog.wrote(10)
    latest = backlog.ping()
    backlog.answered(latest)
    assert backlog.unread == 0 and not backlog.pings


def test_it_pings_at_half_the_limit_once_until_answered():
    backlog = Backlog(limit=100)
    backlog.wrote(50)
    assert not backlog.wants_ping()
    backlog.wrote(1)
    assert backlog.wants_ping()
    backlog.ping()
    assert not backlog.wants_ping()


def test_a_client_that_never_answers_holds_only_the_latest_pings():
    backlog = Backlog(limit=100)
    for _ in range(5 * MAX_PINGS):
        backlog.ping()
    assert len(backlog.pings) == MAX_PINGS


def test_a_pinged_backlog_stays_small():
    # One per socket, every socket pinged each heartbeat: no instance dict, no 600-byte deque.
    backlog = Backlog(limit=100)
    backlog.ping()
    assert not hasattr(backlog, "__dict__") and sys.getsizeof(backlog.pings) < 200
