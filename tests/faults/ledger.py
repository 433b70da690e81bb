"""What PostgreSQL holds against what the clients were acknowledged and saw: "nothing lost"."""

import psycopg

from tests.faults.client import ChatClient


def stored_messages(database_url: str, room_ids: list[int]) -> dict[int, list[tuple[int, int, str]]]:
    """{room: [(seq, message id, client_id), ...] in seq order}, read straight from PostgreSQL."""
    rows = {room: [] for room in room_ids}
    with psycopg.connect(database_url, autocommit=True) as connection:
        for room, seq, message_id, client_id in connection.execute(
            "SELECT room_id, seq, id, client_id::text FROM chat_message WHERE room_id = ANY(%s) ORDER BY room_id, seq",
            [room_ids],
        ):
            rows[room].append((seq, message_id, client_id))
    return rows


def expected_views(stored: dict[int, list[tuple[int, int, str]]]) -> dict[int, list[int]]:
    return {room: [seq for seq, _, _ in rows] for room, rows in stored.items()}


def assert_nothing_lost(clients: list[ChatClient], stored: dict[int, list[tuple[int, int, str]]], *, sent: int) -> None:
    """Every send acknowledged and stored once under its seq; every room gapless; every client's view
    (live plus resume) is exactly PostgreSQL's list of the room, message for message."""
    for room, rows in stored.items():
        assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1)), f"room {room} has a gap or a duplicate"
    by_client_id = {client_id: (room, seq) for room, rows in stored.items() for seq, _, client_id in rows}
    assert sum(len(rows) for rows in stored.values()) == len(by_client_id) == sent, "each send stored exactly once"
    for client in clients:
        assert client.problems == [], f"{client.name}: {client.problems}"
        assert client.pending == {}, f"{client.name} has unacknowledged sends: {list(client.pending.values())[:3]}"
        for client_id, position in client.acked.items():
            assert by_client_id.get(client_id) == position, f"{client.name}: acked {client_id} at {position}"
        for room, rows in stored.items():
            assert client.views[room].messages == {seq: message_id for seq, message_id, _ in rows}, (
                f"{client.name} saw {sorted(client.views[room].messages)[-5:]}... in room {room}, "
                f"PostgreSQL holds {len(rows)}; missing "
                f"{sorted({seq for seq, _, _ in rows} - set(client.views[room].messages))[:10]}"
            )
