"""The flood guard: more than FLOOD_FRAMES frames within FLOOD_SECONDS, across window edges too."""

from chat import protocol
from chat.protocol import FLOOD_FRAMES, FLOOD_SECONDS, FloodGuard


def frames(guard: FloodGuard, count: int) -> list[bool]:
    return [guard.flooding() for _ in range(count)]


def test_the_frame_after_the_limit_within_a_window_is_a_flood(monkeypatch):
    monkeypatch.setattr(protocol.time, "monotonic", lambda: 100 * FLOOD_SECONDS + 0.1)
    guard = FloodGuard()
    assert not any(frames(guard, FLOOD_FRAMES))
    assert guard.flooding()


def test_a_burst_straddling_two_windows_still_counts_as_one(monkeypatch):
    clock = [100 * FLOOD_SECONDS - 0.2]
    monkeypatch.setattr(protocol.time, "monotonic", lambda: clock[0])
    guard = FloodGuard()
    assert not any(frames(guard, FLOOD_FRAMES // 2))
    clock[0] += 0.3  # into the next window: the previous one still overlaps almost entirely
    assert not any(frames(guard, FLOOD_FRAMES // 2 - 2))
    # The estimate discounts the previous window by the 2 % of it that no longer overlaps.
    assert frames(guard, 3) == [False, False, True]


def test_a_steady_pace_under_the_limit_never_floods(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(protocol.time, "monotonic", lambda: clock[0])
    guard = FloodGuard()
    pace = FLOOD_SECONDS / (FLOOD_FRAMES * 0.8)  # 80 % of the limit
    for _ in range(10 * FLOOD_FRAMES):
        clock[0] += pace
        assert not guard.flooding()
