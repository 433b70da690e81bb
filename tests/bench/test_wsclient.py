"""The load generator's WebSocket client (bench/wsclient.py) against real daphne serving the
reference chat (bench/reference/, on Channels' in-process layer so that no Redis is needed): frame
lengths of every encoding both ways, a frame split across reads, daphne's keepalive pings
answered, and both ends' close. On the event loop the load generator runs on (tests/bench/conftest.py)."""

import asyncio
import json
import os
import subprocess
import sys

import pytest
import uvloop

from bench import wsclient
from tests.chat.live import BASE_DIR, wait_for_port
from tests.conftest import free_port

PING_SECONDS = 1  # daphne's --ping-interval and --ping-timeout take whole seconds


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Port of a daphne that pings every idle socket each second and drops it a second later without a pong."""
    port = free_port()
    log = tmp_path_factory.mktemp("wsclient") / "daphne.log"
    env = {**os.environ, "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "bench.reference.settings",
           "BENCH_REFERENCE_LAYER": "memory"}  # fmt: skip
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
               "--ping-interval", str(PING_SECONDS), "--ping-timeout", str(PING_SECONDS),
               "bench.reference.asgi:application"]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


class Recorder:
    """Collects the messages a socket receives, and wakes whoever waits for the next one."""

    def __init__(self):
        self.messages: list[bytes] = []
        self.arrived = asyncio.Event()

    def __call__(self, payload: bytes, received_at: float) -> None:
        self.messages.append(payload)
        self.arrived.set()

    async def next(self) -> dict:
        while not self.messages:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 10)
        return json.loads(self.messages.pop(0))


class Recording(wsclient.WebSocket):
    """Keeps every read as it came off the socket, to be fed again in other cuts."""

    def __init__(self, *args):
        super().__init__(*args)
        self.reads: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        self.reads.append(data)
        super().data_received(data)


async def open_socket(port: int, on_message, *, origin: str | None = None, factory=wsclient.WebSocket):
    loop = asyncio.get_running_loop()
    headers = {"Origin": origin or f"http://127.0.0.1:{port}"}
    protocol = factory(f"127.0.0.1:{port}", "/ws/chat/lobby/", headers, on_message)
    await loop.create_connection(lambda: protocol, "127.0.0.1", port)
    await asyncio.wait_for(protocol.opened, 10)
    return protocol


async def test_the_client_s_tests_run_on_the_load_generator_s_loop():
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


SIZES = (10, 1_000, 70_000)  # the three length encodings: 7 bits, 16 bits, 64 bits


async def test_messages_of_every_length_encoding_come_back_whole(reference):
    inbox = Recorder()
    socket = await wsclient.connect("127.0.0.1", reference, "/ws/chat/lobby/", inbox, headers={
        "Origin": f"http://127.0.0.1:{reference}"})  # fmt: skip
    for size in SIZES:
        text = "é" + "x" * size  # not only ASCII: the mask covers the encoded bytes
        socket.send(json.dumps({"message": text}, ensure_ascii=False))
        assert (await inbox.next())["message"] == text
    await socket.close()


async def test_the_same_bytes_cut_anywhere_give_the_same_messages(reference):
    inbox = Recorder()
    socket = await open_socket(reference, inbox, factory=Recording)
    for size in SIZES:
        socket.send(json.dumps({"message": "y" * size}))
        await inbox.next()
    await socket.close()
    stream = b"".join(socket.reads)
    assert len(stream) > 70_000

    for cut in (1, 2, 7, 126, 65_537):  # a byte at a time, mid-header, mid-length, mid-payload
        again = Recorder()
        replay = wsclient.WebSocket("", "", {}, again)
        replay.key = socket.key  # the upgrade response accepts the recorded socket's key
        for start in range(0, len(stream), cut):
            replay.data_received(stream[start : start + cut])
        assert replay.opened.done() and replay.opened.exception() is None
        assert [len(json.loads(m)["message"]) for m in again.messages] == list(SIZES)


async def test_daphne_s_pings_are_answered_so_an_idle_socket_stays_open(reference):
    inbox = Recorder()
    socket = await open_socket(reference, inbox)
    for _ in range(100):  # daphne checks its sockets every second or two: a few seconds for 3 pings
        if socket.pings >= 3 or socket.closed.done():
            break
        await asyncio.sleep(0.1 * PING_SECONDS)
    # Without pongs daphne would have dropped it a timeout after the first ping.
    assert socket.pings >= 3
    assert not socket.closed.done()
    socket.send(json.dumps({"message": "still here"}))
    assert (await inbox.next())["message"] == "still here"
    await socket.close()


async def test_closing_waits_for_the_server_to_answer_and_end_the_connection(reference):
    socket = await open_socket(reference, Recorder())
    await socket.close(timeout=5)
    assert socket.closed.done()
    assert socket.close_code == wsclient.NORMAL_CLOSURE  # daphne's answer, not a timeout's abort


async def test_a_close_from_the_server_is_answered_and_the_connection_ends(reference):
    socket = await open_socket(reference, Recorder())
    socket.send("not JSON")  # the reference consumer raises: daphne closes the socket
    await asyncio.wait_for(socket.closed, 10)
    assert socket.close_code is not None
    assert socket.close_sent


async def test_a_refused_upgrade_is_a_handshake_error(reference):
    with pytest.raises(wsclient.HandshakeError, match="403"):
        await open_socket(reference, Recorder(), origin="http://elsewhere.test")


async def test_the_load_generator_counts_a_send_on_a_socket_the_server_closed_as_an_error(reference):
    from bench.ws_fanout import Client, Stats

    stats = Stats()
    origin = f"http://127.0.0.1:{reference}"
    client = Client(0, f"ws://127.0.0.1:{reference}/ws/chat/lobby/", origin, None, 0, stats)
    await client.open()
    client.send("not JSON")  # the reference consumer raises: daphne closes the socket
    await asyncio.wait_for(client.ws.closed, 10)

    client.send(client.frame(stats.new_phase().id, 0))

    assert sum(stats.errors.values()) == 1
