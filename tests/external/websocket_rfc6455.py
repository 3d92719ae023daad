#!/usr/bin/python3
"""A gate's WebSocket listeners seen by clients dinx did not write: the `websockets` library,
urllib, and raw sockets where a library refuses to break RFC 6455.

Usage: websocket_rfc6455.py PATH/TO/dinx-demo   (exit 0 when every check passed)
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import asyncio
import base64
import collections
import hashlib
import json
import os
import socket
import struct
import threading
import time
import urllib.error
import urllib.request

import websockets

from cluster import (BOUND, ECHO, KICK_MSG_ID, LOGIN, CheckFailed, Cluster, check,
                     check_closed_at_limit, connect, demo_from_argv, free_ports,
                     read_until_closed, receive_by, run_on_cluster, show, split_frames,
                     time_until_closed, tlv, within, ws_frames)

HANDSHAKE_TIMEOUT_MS = 500
# Short, so that the idle checks wait a second or two; every other check talks all along.
IDLE_TIMEOUT_MS = 1200
# client_endpoint.cpp: max(1 MiB, 2 * (max_packet_size + 64)); the default max_packet_size
# (64 KiB) leaves 1 MiB.
MAX_MESSAGE = 1 << 20
SUBPROTOCOL = "zinx.tlv"
GOOD_ORIGIN = "https://game.example"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

PAGES = {
    "index.html": "<!doctype html>\n<title>dinx external test</title>\n<p>caf\u00e9 \u2615</p>\n"
    .encode(),
    "app.js": b"// served by the gate\nconsole.log('dinx');\n" + bytes(range(32, 127)),
}


# --- a raw client: frames the libraries will not send ------------------------------------------


class RawWebSocket:
    """A WebSocket client on a plain socket that sends whatever frame it is told to."""

    def __init__(self, port, path="/ws", extra_headers=""):
        self.sock = connect(port)
        self.buffer = b""
        self.passed_over = []
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             f"Sec-WebSocket-Version: 13\r\n{extra_headers}\r\n").encode())
        deadline = time.monotonic() + BOUND
        while b"\r\n\r\n" not in self.buffer:
            self._read_more(deadline, "the 101 answer")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode(errors="replace").split("\r\n")
        check(lines[0].startswith("HTTP/1.1 101 "), f"the upgrade was answered {lines[0]!r}")
        fields = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        check(fields.get("sec-websocket-accept") == accept,
              f"Sec-WebSocket-Accept {fields.get('sec-websocket-accept')!r}, RFC 6455 says "
              f"{accept!r}")

    def _read_more(self, deadline, awaited):
        self.buffer += receive_by(
            self.sock, deadline, f"waited {BOUND} s for {awaited} (have {self.buffer[:60]!r})",
            f"the server closed the TCP connection while {awaited} was awaited "
            f"(frames before: {self.passed_over})")

    def _take(self, count, deadline):
        while len(self.buffer) < count:
            self._read_more(deadline, "a frame")
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
        """One frame; `length` overrides the announced payload length."""
        length = len(payload) if length is None else length
        head = bytes([(0x80 if fin else 0) | rsv | opcode])
        mask_bit = 0x80 if mask else 0
        if length < 126:
            head += bytes([mask_bit | length])
        elif length <= 0xFFFF:
            head += bytes([mask_bit | 126]) + struct.pack(">H", length)
        else:
            head += bytes([mask_bit | 127]) + struct.pack(">Q", length)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def read_frame(self, timeout=BOUND):
        """(fin, opcode, payload) of the next server frame, checked as RFC 6455 5.1 wants."""
        deadline = time.monotonic() + timeout
        b0, b1 = self._take(2, deadline)
        check(not b1 & 0x80, "a server frame is masked (RFC 6455 5.1: a server MUST NOT mask)")
        check(not b0 & 0x70, f"a server frame has RSV bits set: {b0:#04x}")
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", self._take(2, deadline))
        elif length == 127:
            (length,) = struct.unpack(">Q", self._take(8, deadline))
        return bool(b0 & 0x80), b0 & 0x0F, self._take(length, deadline)

    def read_close(self, timeout=BOUND):
        """The close frame's code (None when empty) after any other frames; the server must
        close the TCP connection right after it (RFC 6455 7.1.1: the server closes first)."""
        while True:
            fin, opcode, payload = self.read_frame(timeout)
            if opcode == OP_CLOSE:
                break
            self.passed_over.append((opcode, payload[:60]))
        check(fin, "a close frame without FIN")
        check(len(payload) != 1, "a close frame with a 1-byte payload")
        code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
        rest, _ = read_until_closed(self.sock, timeout)
        check(not rest and not self.buffer,
              f"bytes after the close frame: {(self.buffer + rest)[:60]!r}")
        return code

    def close(self):
        self.sock.close()


def trickle(sock, data, pause):
    """Sends `data` a byte at a time, awaiting the server's close up to `pause` after each;
    returns what the server sent once it closed, or after the last byte."""
    received = b""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
            sock.settimeout(pause)
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return received
        if not chunk:
            return received
        received += chunk
    return received


def http_exchange(port, request):
    """Sends `request` and reads the answer until the server closes: (status, fields, body)."""
    sock = connect(port)
    try:
        sock.sendall(request)
        answer, _ = read_until_closed(sock)
    finally:
        sock.close()
    check(b"\r\n\r\n" in answer, f"no HTTP answer: {answer[:80]!r}")
    head, body = answer.split(b"\r\n\r\n", 1)
    lines = head.decode(errors="replace").split("\r\n")
    parts = lines[0].split(" ", 2)
    check(len(parts) >= 2 and parts[0] == "HTTP/1.1" and parts[1].isdigit(),
          f"not an HTTP status line: {lines[0]!r}")
    fields = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return int(parts[1]), fields, body


# --- library helpers ---------------------------------------------------------------------------


def url(port, path="/ws"):
    return f"ws://127.0.0.1:{port}{path}"


def open_ws(port, path="/ws", **options):
    return websockets.connect(url(port, path), open_timeout=BOUND, close_timeout=BOUND, **options)


async def ws_login(ws, name):
    await ws.send(tlv(LOGIN, name))
    frames = await ws_frames(ws, 1)
    check(frames == [(LOGIN, f"welcome {name}".encode())], f"login answered {frames}")


def close_code_received(error):
    """The code of the close frame the peer sent, from a ConnectionClosed (None: none came)."""
    received = getattr(error, "rcvd", None)
    return received.code if received is not None else None


def status_of(error):
    """The HTTP status of a refused handshake, across websockets versions."""
    status = getattr(error, "status_code", None)
    if status is None and getattr(error, "response", None) is not None:
        status = error.response.status_code
    return status


async def expect_refused(port, path, status, **options):
    try:
        async with open_ws(port, path, **options):
            pass
    except websockets.exceptions.InvalidHandshake as error:
        check(status_of(error) == status,
              f"the handshake on {path} with {options} was refused with {error!r}, "
              f"expected HTTP {status}")
        return
    raise CheckFailed(f"the handshake on {path} with {options} was accepted; expected {status}")


# --- the checks --------------------------------------------------------------------------------


def make_checks(cluster, ws_port, strict_port):
    async def login_and_echo_in_one_message():
        async with open_ws(ws_port) as ws:
            await ws.send(tlv(LOGIN, "alice") + tlv(ECHO, b"\x00ping\xff"))
            frames = await ws_frames(ws, 2)
            check(sorted(frames) == [(LOGIN, b"welcome alice"), (ECHO, b"\x00ping\xff")],
                  f"replies {[show(f) for f in frames]}")

    async def library_fragments_are_reassembled():
        # A frame split inside its header, one inside its data, and a whole one, as fragments.
        first, second = tlv(ECHO, b"fragmented-one"), tlv(ECHO, b"fragmented-two")
        async with open_ws(ws_port) as ws:
            await ws.send([first[:3], first[3:11], first[11:] + second[:9], second[9:]])
            frames = await ws_frames(ws, 2)
            check(frames == [(ECHO, b"fragmented-one"), (ECHO, b"fragmented-two")],
                  f"replies {[show(f) for f in frames]}")

    def ping_between_fragments():
        raw = RawWebSocket(ws_port)
        try:
            frame = tlv(ECHO, b"around a ping")
            raw.send_frame(OP_BINARY, frame[:5], fin=False)
            raw.send_frame(OP_PING, b"are you there")
            raw.send_frame(OP_CONT, frame[5:12], fin=False)
            raw.send_frame(OP_PONG, b"unsolicited")  # RFC 6455 5.5.3: may be sent, no answer
            raw.send_frame(OP_PING, b"")
            raw.send_frame(OP_CONT, frame[12:], fin=True)
            pongs, data = [], b""
            while len(pongs) < 2 or not data:
                fin, opcode, payload = raw.read_frame()
                if opcode == OP_PONG:
                    pongs.append(payload)
                else:
                    check(opcode == OP_BINARY and fin, f"frame {opcode:#x} fin={fin} {payload!r}")
                    data += payload
            check(pongs == [b"are you there", b""],
                  f"pongs {pongs}; RFC 6455 5.5.3 wants each ping's data back")
            check(split_frames(data) == ([(ECHO, b"around a ping")], b""), f"echo reply {data!r}")
        finally:
            raw.close()

    async def client_close_is_echoed():
        async with open_ws(ws_port) as ws:
            await ws_login(ws, "closer")
            await ws.close(1000, "done")
            code = ws.close_code
            check(code == 1000, f"the server answered the client's close 1000 with {code} "
                                "(1006: no close frame, or the TCP connection did not end)")

    def raw_close_codes_are_echoed():
        for sent, expected in ((struct.pack(">H", 4001) + b"bye", {4001}), (b"", {None, 1000})):
            raw = RawWebSocket(ws_port)
            try:
                raw.send_frame(OP_CLOSE, sent)
                code = raw.read_close()
                check(code in expected, f"a close {sent!r} was answered with code {code}, "
                                        f"expected one of {expected} (RFC 6455 5.5.1)")
            finally:
                raw.close()

    def data_after_a_close_is_ignored():
        raw = RawWebSocket(ws_port)
        try:
            raw.send_frame(OP_CLOSE, struct.pack(">H", 1000))
            raw.send_frame(OP_BINARY, tlv(ECHO, b"after the close"))
            code = raw.read_close()
            check(code == 1000, f"the close was answered with {code}")
            check(not raw.passed_over, f"frames answered after the client's close: "
                                       f"{raw.passed_over} (RFC 6455 1.4: discard them)")
        finally:
            raw.close()

    async def registered_close_codes_are_echoed():
        # 1012-1014 are in IANA's close code registry (RFC 6455 11.7); the library sends them.
        refused = []
        for code in (1001, 1008, 1011, 1012, 1013, 1014, 3000, 4999):
            async with open_ws(ws_port) as ws:
                await ws.close(code)
                if ws.close_code != code:
                    refused.append(f"{code} answered with {ws.close_code}")
        if refused and all(item.split()[0] in ("1012", "1013", "1014") for item in refused):
            raise AssertionError("server bug: registered close codes are answered with a protocol error "
                       f"({'; '.join(refused)}): node/websocket_layer.cpp is_valid_close_code "
                       "accepts 1000-1003, 1007-1011, 3000-4999 only, though IANA's registry "
                       "(RFC 6455 11.7) defines 1012-1014 and the websockets library sends them")
        check(not refused, f"close codes not echoed: {refused}")

    def browser_style_handshakes_are_accepted():
        # Firefox sends "Connection: keep-alive, Upgrade"; field names are case-insensitive
        # (RFC 9110 5.1), the Upgrade token too (RFC 6455 4.2.1), and a query is not the path.
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /ws?room=1 HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                   f"connection: keep-alive, Upgrade\r\nupgrade: WebSocket\r\n"
                   f"sec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n"
                   f"origin: http://127.0.0.1:{ws_port}\r\nuser-agent: Mozilla/5.0\r\n\r\n")
        sock = connect(ws_port)
        try:
            sock.sendall(request.encode())
            answer = b""
            deadline = time.monotonic() + BOUND
            while b"\r\n\r\n" not in answer:
                check(time.monotonic() < deadline, f"no answer within {BOUND} s: {answer!r}")
                chunk = sock.recv(4096)
                check(chunk, f"closed after {answer!r}")
                answer += chunk
            status = answer.split(b"\r\n", 1)[0]
            check(status.startswith(b"HTTP/1.1 101 "), f"a browser-style upgrade got {status!r}")
        finally:
            sock.close()

    async def server_close_after_a_kick():
        async with open_ws(ws_port) as older, open_ws(ws_port) as newer:
            await ws_login(older, "kim")
            await ws_login(newer, "kim")
            frames = await ws_frames(older, 1)
            check(frames[0][0] == KICK_MSG_ID, f"the older login got {show(frames[0])}")
            check(json.loads(frames[0][1]).get("code") == "replaced", f"kick {frames[0][1]!r}")
            try:
                extra = await within(older.recv(), "the kicked client was not closed")
                raise CheckFailed(f"a message after the kick frame: {extra!r}")
            except websockets.exceptions.ConnectionClosed as closed:
                check(close_code_received(closed) == 1001,
                      f"the server closed the kicked client with {closed!r}, expected a close "
                      "frame 1001")
                check(isinstance(closed, websockets.exceptions.ConnectionClosedOK),
                      f"the library saw an unclean close: {closed!r}")
            await within(older.wait_closed(), "the kicked client's TCP connection did not end")
            await newer.send(tlv(ECHO, b"still here"))
            check(await ws_frames(newer, 1) == [(ECHO, b"still here")], "the newer login broke")

    async def quiet_library_client_lives_on_its_pongs():
        # The gate pings a client quiet for half the idle limit; the library answers by itself.
        async with open_ws(ws_port, ping_interval=None) as ws:
            await ws_login(ws, "quiet")
            try:
                message = await asyncio.wait_for(ws.recv(), 2.5 * IDLE_TIMEOUT_MS / 1000)
                raise CheckFailed(f"a message while quiet: {message!r}")
            except asyncio.TimeoutError:
                pass  # quiet for 2.5 idle limits, and still open: what is checked
            except websockets.exceptions.ConnectionClosed as closed:
                raise CheckFailed(f"a client answering pings was closed when quiet: {closed!r}")
            await ws.send(tlv(ECHO, b"after the quiet"))
            check(await ws_frames(ws, 1) == [(ECHO, b"after the quiet")], "no echo after quiet")

    def idle_client_gets_pings_then_a_close_frame():
        limit = IDLE_TIMEOUT_MS / 1000
        raw = RawWebSocket(ws_port)
        start = time.monotonic()
        pings, closed_by = 0, None
        try:
            while closed_by is None:
                try:
                    fin, opcode, payload = raw.read_frame(limit + 3)
                except CheckFailed as error:
                    if "closed the TCP connection" not in str(error):
                        raise
                    closed_by = "EOF"
                    break
                if opcode == OP_PING:
                    pings += 1
                    continue
                check(opcode == OP_CLOSE, f"an idle client got frame {opcode:#x} {payload!r}")
                closed_by = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                read_until_closed(raw.sock)
        finally:
            raw.close()
        elapsed = time.monotonic() - start
        check_closed_at_limit(elapsed, IDLE_TIMEOUT_MS, "client_idle_timeout_ms", "an idle client")
        check(pings >= 1, "an idle client was closed without being pinged first")
        if closed_by == "EOF":
            raise AssertionError(
                "server bug: a WebSocket client idle for client_idle_timeout_ms gets its TCP "
                "connection cut with no close frame (RFC 6455 7.1.1-7.1.2: the server starts "
                "the closing handshake; a browser reports 1006, wasClean false). Got "
                f"{pings} empty pings, then EOF after {elapsed:.2f} s. "
                "ClientSession::check_timeouts calls close() (TcpTransport::close: no "
                "say_goodbye) where a kick uses close_after_flush (close 1001)")
        check(closed_by in (1000, 1001, 1008), f"an idle client was closed with {closed_by}")

    async def text_message_closes_1003():
        async with open_ws(ws_port) as ws:
            await ws.send("a text message")
            try:
                got = await within(ws.recv(), "a text message did not close the connection")
                raise CheckFailed(f"a text message was answered {got!r}, not closed")
            except websockets.exceptions.ConnectionClosed as closed:
                check(close_code_received(closed) == 1003,
                      f"a text message closed the connection with {closed!r}, expected 1003")

    def protocol_errors_close_1002():
        cases = {
            "an unmasked frame": lambda r: r.send_frame(OP_BINARY, tlv(ECHO, b"x"), mask=False),
            "RSV1 set": lambda r: r.send_frame(OP_BINARY, tlv(ECHO, b"x"), rsv=0x40),
            "reserved data opcode 0x3": lambda r: r.send_frame(0x3, b"x"),
            "reserved control opcode 0xB": lambda r: r.send_frame(0xB, b""),
            "a continuation without a message": lambda r: r.send_frame(OP_CONT, tlv(ECHO)),
            "a new message inside a fragmented one": lambda r: (
                r.send_frame(OP_BINARY, tlv(ECHO)[:4], fin=False),
                r.send_frame(OP_BINARY, tlv(ECHO))),
            "a fragmented ping": lambda r: r.send_frame(OP_PING, b"x", fin=False),
            "a ping of 126 bytes": lambda r: r.send_frame(OP_PING, b"p" * 126),
            "a close payload of 1 byte": lambda r: r.send_frame(OP_CLOSE, b"\x03"),
            "close code 1005 on the wire": lambda r: r.send_frame(OP_CLOSE, b"\x03\xed"),
            "a 64-bit length with the top bit set": lambda r: r.send_frame(
                OP_BINARY, b"", length=1 << 63),
        }
        for what, send in cases.items():
            raw = RawWebSocket(ws_port)
            try:
                send(raw)
                code = raw.read_close()
                check(code == 1002, f"{what}: closed with {code}, RFC 6455 wants 1002")
            finally:
                raw.close()

    async def oversized_messages_close_1009():
        # One frame announcing a byte over the limit: refused from its header.
        raw = RawWebSocket(ws_port)
        try:
            raw.send_frame(OP_BINARY, b"", length=MAX_MESSAGE + 1)
            check(raw.read_close() == 1009, "1 MiB + 1 in one frame was not closed with 1009")
        finally:
            raw.close()
        # Fragments sum up: 12 bytes (a whole echo frame), then 1 MiB - 11.
        raw = RawWebSocket(ws_port)
        try:
            raw.send_frame(OP_BINARY, tlv(ECHO, b"abcd"), fin=False)
            raw.send_frame(OP_CONT, b"", length=MAX_MESSAGE - 11)
            check(raw.read_close() == 1009,
                  "fragments summing to 1 MiB + 1 were not closed with 1009")
        finally:
            raw.close()
        # Exactly the limit passes: 16 echo frames of 64 KiB in one message.
        payload = b"z" * (MAX_MESSAGE // 16 - 8)
        async with open_ws(ws_port, max_size=None) as ws:
            await ws.send(tlv(ECHO, payload) * 16)
            frames = await ws_frames(ws, 16)
            check(frames == [(ECHO, payload)] * 16, "a message of exactly 1 MiB was not echoed")

    async def unknown_path_gets_404():
        await expect_refused(ws_port, "/not-the-ws-path", 404)
        await expect_refused(strict_port, "/ws", 404, origin=GOOD_ORIGIN)

    async def origins_are_checked():
        await expect_refused(strict_port, "/game", 403, origin="https://evil.example")
        await expect_refused(strict_port, "/game", 403, origin="https://game.example.evil")
        await expect_refused(strict_port, "/game", 403)  # no Origin (not a browser)
        async with open_ws(strict_port, "/game", origin=GOOD_ORIGIN) as ws:
            await ws_login(ws, "origin-ok")
            await ws.send(tlv(ECHO, b"allowed"))
            check(await ws_frames(ws, 1) == [(ECHO, b"allowed")], "no echo with a good Origin")

    async def subprotocol_is_echoed():
        async with open_ws(ws_port, subprotocols=["chat", SUBPROTOCOL]) as ws:
            check(ws.subprotocol == SUBPROTOCOL,
                  f"offered [chat, {SUBPROTOCOL}], the server chose {ws.subprotocol!r}")
            await ws.send(tlv(ECHO, b"sub"))
            check(await ws_frames(ws, 1) == [(ECHO, b"sub")], "no echo with the subprotocol")
        async with open_ws(ws_port) as ws:
            check(ws.subprotocol is None, f"none offered, the server chose {ws.subprotocol!r}")
        async with open_ws(ws_port, subprotocols=["chat"]) as ws:
            check(ws.subprotocol is None, f"offered [chat], the server chose {ws.subprotocol!r}")
        async with open_ws(strict_port, "/game", origin=GOOD_ORIGIN,
                           subprotocols=[SUBPROTOCOL]) as ws:
            check(ws.subprotocol is None,
                  f"a listener without subprotocol chose {ws.subprotocol!r}")

    def unfinished_heads_meet_the_deadline():
        limit = HANDSHAKE_TIMEOUT_MS / 1000
        # The deadline counts from the connect, not from the last byte: a head trickled a byte
        # every 100 ms is cut as surely as half a head or none.
        half = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs"
        slow = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
        for what, send in (("half a request head", lambda s: s.sendall(half)),
                           ("nothing", lambda s: None),
                           ("a head trickled byte by byte", lambda s: trickle(s, slow, 0.1))):
            got, elapsed = time_until_closed(ws_port, send, limit + 3)
            check_closed_at_limit(elapsed, HANDSHAKE_TIMEOUT_MS, "client_handshake_timeout_ms",
                                  what)
            check(b"101" not in got, f"{what}: answered {got[:80]!r}")

    def http_errors_name_the_rule():
        status, fields, _ = http_exchange(
            ws_port, b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade"
                     b"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 8\r\n\r\n")
        check(status == 426 and fields.get("sec-websocket-version") == "13",
              f"version 8 got {status} {fields} (RFC 6455 4.4: 426 with Sec-WebSocket-Version)")
        status, _, _ = http_exchange(
            ws_port, b"GET /ws HTTP/1.1\r\nHost: h\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n")
        check(status == 431, f"a 9 KB head got {status}, expected 431")
        status, fields, _ = http_exchange(ws_port, b"GET /ws HTTP/1.1\r\nHost: h\r\n\r\n")
        check(status == 426, f"a plain GET of the WebSocket path got {status}, expected 426")

    async def hostile_clients_do_not_hurt_a_player():
        stop = threading.Event()
        done = collections.Counter()
        problems = []

        def hostile(kind, attack):
            while not stop.is_set():
                try:
                    attack()
                    done[kind] += 1
                except Exception as error:  # reported after the player's run
                    problems.append(f"{kind}: {error}")
                    return

        def half_heads():
            socks = [connect(ws_port) for _ in range(20)]
            try:
                for s in socks:
                    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
                for s in socks:
                    read_until_closed(s, HANDSHAKE_TIMEOUT_MS / 1000 + 3)
            finally:
                for s in socks:
                    s.close()

        def violation(opcode, mask, expected):
            def attack():
                raw = RawWebSocket(ws_port)
                try:
                    raw.send_frame(opcode, tlv(ECHO, b"x"), mask=mask)
                    code = raw.read_close()
                    check(code == expected, f"closed with {code}, expected {expected}")
                finally:
                    raw.close()
            return attack

        def ping_flood():
            raw = RawWebSocket(ws_port)
            try:
                for _ in range(300):
                    raw.send_frame(OP_PING, b"f" * 125)
            finally:
                raw.close()

        def garbage():
            status, _, _ = http_exchange(ws_port, os.urandom(4096))
            check(status == 400, f"random bytes got HTTP {status}, expected 400")

        def oversized():
            raw = RawWebSocket(ws_port)
            try:
                raw.send_frame(OP_BINARY, b"", length=1 << 40)
                check(raw.read_close() == 1009, "a 1 TiB frame was not closed with 1009")
            finally:
                raw.close()

        attacks = {
            "half heads": half_heads,
            "unmasked frames": violation(OP_BINARY, False, 1002),
            "text messages": violation(OP_TEXT, True, 1003),
            "ping floods": ping_flood,
            "random bytes": garbage,
            "1 TiB frames": oversized,
        }
        threads = [threading.Thread(target=hostile, args=item, daemon=True)
                   for item in attacks.items()]
        worst, echoes = 0.0, 0
        async with open_ws(ws_port) as ws:
            await ws_login(ws, "steady")
            for thread in threads:
                thread.start()
            try:
                end = time.monotonic() + 1.5  # three handshake deadlines of the half heads
                while time.monotonic() < end or echoes < 20:
                    sent = time.monotonic()
                    await ws.send(tlv(ECHO, f"steady {echoes}"))
                    frames = await ws_frames(ws, 1)
                    check(frames == [(ECHO, f"steady {echoes}".encode())], f"got {frames}")
                    worst = max(worst, time.monotonic() - sent)
                    echoes += 1
            finally:
                stop.set()
                for thread in threads:
                    await asyncio.to_thread(thread.join, BOUND + 4)
        check(not problems, f"hostile clients were not treated as expected: {problems}")
        check(all(done[kind] > 0 for kind in attacks), f"attacks run: {dict(done)}")
        check(worst < 1.0, f"an echo took {worst:.3f} s while hostile clients ran")
        print(f"     {echoes} echoes, slowest {worst * 1000:.1f} ms, beside {dict(done)}")

    def web_root_pages_are_served():
        for path, name in (("/index.html", "index.html"), ("/", "index.html"),
                           ("/app.js", "app.js")):
            with urllib.request.urlopen(f"http://127.0.0.1:{ws_port}{path}",
                                        timeout=BOUND) as answer:
                body = answer.read()
                check(answer.status == 200, f"GET {path}: {answer.status}")
                check(body == PAGES[name], f"GET {path}: {len(body)} bytes, not {name}'s")
                expected_type = "text/html" if name.endswith(".html") else "text/javascript"
                check(answer.headers.get("Content-Type", "").startswith(expected_type),
                      f"GET {path}: Content-Type {answer.headers.get('Content-Type')}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{ws_port}/missing.html", timeout=BOUND)
            raise CheckFailed("GET /missing.html was answered 200")
        except urllib.error.HTTPError as error:
            check(error.code == 404, f"GET /missing.html: {error.code}")

    async def drain_closes_with_1001():
        # Last: it stops the cluster. A drain says goodbye on every open WebSocket.
        async with open_ws(ws_port) as ws:
            await ws_login(ws, "drained")
            cluster.drain()
            try:
                message = await within(ws.recv(), "the drain did not close the client")
                raise CheckFailed(f"a message during the drain: {message!r}")
            except websockets.exceptions.ConnectionClosed as closed:
                received = close_code_received(closed)
        await asyncio.to_thread(cluster.check_drained)
        if received is None:
            raise AssertionError(
                "server bug: a drain (SIGTERM) cuts open WebSocket clients' TCP connections "
                "with no close frame, so they see 1006 (abnormal closure) where RFC 6455 7.4.1 "
                "has 1001 going away for a server going down, which WebSocketLayer::say_goodbye "
                "would send. NodeShard's stop calls ClientSession::close('the node is stopping'),"
                " i.e. TcpTransport::close, which never says goodbye (close_after_flush does)")
        check(received == 1001, f"the drain closed the client with {received}, expected 1001")

    return [
        ("login and echo in one binary message of two TLV frames get binary replies of whole "
         "frames", login_and_echo_in_one_message),
        ("a message fragmented by the library is reassembled", library_fragments_are_reassembled),
        ("pings between the fragments of a message get pongs and the message its echo",
         ping_between_fragments),
        ("a close 1000 from the client is answered with 1000", client_close_is_echoed),
        ("raw closes are answered: code 4001 echoed, an empty close with 1000",
         raw_close_codes_are_echoed),
        ("data sent after a close is not answered", data_after_a_close_is_ignored),
        ("close codes the library may send are echoed", registered_close_codes_are_echoed),
        ("browser-style upgrades (lower-case fields, keep-alive, query) are accepted",
         browser_style_handshakes_are_accepted),
        ("a client replaced by a newer login gets the kick frame, then a close 1001",
         server_close_after_a_kick),
        ("a quiet websockets client outlives client_idle_timeout_ms by answering pings",
         quiet_library_client_lives_on_its_pongs),
        ("an idle client that answers no ping gets pings, then a close frame",
         idle_client_gets_pings_then_a_close_frame),
        ("a text message closes with 1003", text_message_closes_1003),
        ("unmasked frames and other protocol errors close with 1002",
         protocol_errors_close_1002),
        ("a message over 1 MiB closes with 1009, fragments summed; exactly 1 MiB passes",
         oversized_messages_close_1009),
        ("an upgrade on an unknown path gets HTTP 404", unknown_path_gets_404),
        ("an Origin not in origins gets 403, none gets 403, an allowed one works",
         origins_are_checked),
        ("the configured subprotocol is echoed when offered, and only then",
         subprotocol_is_echoed),
        ("a request head not done within client_handshake_timeout_ms is closed",
         unfinished_heads_meet_the_deadline),
        ("version 8 gets 426, a 9 KB head 431, a plain GET of the path 426",
         http_errors_name_the_rule),
        ("hostile WebSocket clients do not slow a player connected at the same time",
         hostile_clients_do_not_hurt_a_player),
        ("a plain GET of a web_root page returns 200 with the file's bytes",
         web_root_pages_are_served),
        ("SIGTERM drains the gate: an open client gets a close 1001, the process exits 0",
         drain_closes_with_1001),
    ]


def main():
    demo = demo_from_argv()
    cluster = Cluster(demo, "ws")
    ws_port, strict_port = free_ports(2)
    web = cluster.dir / "web"
    web.mkdir()
    for name, body in PAGES.items():
        (web / name).write_bytes(body)
    cluster.write(
        settings=f"client_handshake_timeout_ms = {HANDSHAKE_TIMEOUT_MS}\n"
                 f"client_idle_timeout_ms = {IDLE_TIMEOUT_MS}",
        listeners=f"""
[[gate.listeners]]
port = {ws_port}
protocol = "websocket"
path = "/ws"
subprotocol = "{SUBPROTOCOL}"
web_root = "web"

[[gate.listeners]]
port = {strict_port}
protocol = "websocket"
path = "/game"
origins = ["{GOOD_ORIGIN}", "https://other.example"]
""")
    return run_on_cluster(cluster, f"WebSocket listeners (websockets {websockets.__version__})",
                          make_checks(cluster, ws_port, strict_port),
                          wait_ports=(ws_port, strict_port))


if __name__ == "__main__":
    sys.exit(main())
