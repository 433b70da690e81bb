"""What bench/ws_fanout.py's load generator makes of the copies it receives (fed to it directly)."""

from bench.ws_fanout import Client, Stats


def copy_of(phase: int, sender: int, seq: int, *, sent_at: float = 1.0, kind: str = "message.new") -> bytes:
    return f'{{"type":"{kind}","message":{{"body":"B|{phase}|{sender}|{seq}|{sent_at:.6f}|E"}}}}'.encode()


def member(index: int, stats: Stats) -> Client:
    return Client(index, "ws://127.0.0.1:1/ws/", "http://127.0.0.1:1", "cookie", 1, stats)


def test_a_dm_phase_counts_a_doubled_copy_once_and_shows_a_lost_one():
    stats = Stats()
    phase = stats.new_phase(peers=True)
    peer = member(1, stats)
    for seq in (0, 0, 2):  # seq 0 twice, seq 1 never
        peer.received(copy_of(phase.id, 0, seq), 3.0)

    assert phase.peer_delivered == 3
    assert phase.peer_keys == {(b"0", b"0"), (b"0", b"2")}
    assert phase.peer_latencies == [2.0, 2.0, 2.0]


def test_a_room_phase_counts_and_times_every_copy_and_keeps_no_peer_set():
    stats = Stats()
    phase = stats.new_phase()
    for index in range(3):
        member(index, stats).received(copy_of(phase.id, 0, 0, sent_at=1.5), 2.0)
    member(0, stats).received(copy_of(phase.id, 0, 0, kind="message.ack"), 2.0)

    assert (phase.delivered, phase.acks) == (3, 1)
    assert phase.latencies == [0.5, 0.5, 0.5]
    assert phase.peer_delivered == 0 and not phase.peer_keys and not phase.peer_latencies


def test_a_copy_of_an_ended_phase_is_stale():
    stats = Stats()
    phase = stats.new_phase()
    stats.end_phase(phase)
    member(1, stats).received(copy_of(phase.id, 0, 0), 2.0)
    assert stats.stale == 1 and phase.delivered == 0
