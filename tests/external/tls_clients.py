#!/usr/bin/python3
"""A gate's TLS listeners (TCP+TLS and WebSocket over TLS) seen by clients dinx did not write:
`openssl s_client`, Python's `ssl`, and the `websockets` library over wss://; the project's own
`dinx-demo client --tls`; and the config mistakes a TLS listener can hold.

Usage: tls_clients.py PATH/TO/dinx-demo   (exit 0 when every check passed)
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import select
import socket
import ssl
import subprocess
import time

import websockets

from cluster import (BOUND, ECHO, KICK_MSG_ID, LOGIN, CheckFailed, Cluster, FrameClient, check,
                     check_closed_at_limit, connect, demo_from_argv, free_ports, kill, line_of,
                     make_certificate, make_temp_dir, openssl_path, port_accepts,
                     read_until_closed, run_on_cluster, run_refused, show, spawn, split_frames,
                     time_until_closed, tlv, ws_frames)

HANDSHAKE_TIMEOUT_MS = 500


def client_context(cert):
    """A client context that trusts only the generated certificate and checks the name."""
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = True
    return context


def listeners(tls_port, wss_port, cert="cert.pem", key="key.pem"):
    return f"""
[[gate.listeners]]
port = {tls_port}
tls_cert = "{cert}"
tls_key = "{key}"

[[gate.listeners]]
port = {wss_port}
protocol = "websocket"
path = "/ws"
tls_cert = "{cert}"
tls_key = "{key}"
"""


def make_checks(cluster, tls_port, wss_port, cert, demo):
    def openssl_s_client_logs_in():
        # -quiet also ignores stdin's end; -verify_return_error and -verify_ip make it check
        # the certificate as a careful client would.
        child = spawn([openssl_path(), "s_client", "-connect", f"127.0.0.1:{tls_port}", "-quiet",
                       "-CAfile", str(cert), "-verify_return_error", "-verify_ip", "127.0.0.1"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            child.stdin.write(tlv(LOGIN, "sam") + tlv(ECHO, b"\x00\x01binary\xff"))
            child.stdin.flush()
            received, frames = b"", []
            deadline = time.monotonic() + BOUND
            while len(frames) < 2:
                left = deadline - time.monotonic()
                ready = select.select([child.stdout], [], [], left)[0] if left > 0 else []
                chunk = child.stdout.read1(65536) if ready else None
                if not chunk:
                    kill(child)  # its stderr ends with it
                    why = "nothing more" if chunk is None else "its end"
                    raise CheckFailed(f"s_client printed {received!r}, then {why} within "
                                      f"{BOUND} s; its stderr: "
                                      f"{child.stderr.read().decode(errors='replace')}")
                received += chunk
                frames, _ = split_frames(received)
            check(sorted(frames) == [(LOGIN, b"welcome sam"), (ECHO, b"\x00\x01binary\xff")],
                  f"s_client got {[show(f) for f in frames]}")
        finally:
            kill(child)

    def python_ssl_speaks_tlv():
        with socket.create_connection(("127.0.0.1", tls_port), timeout=BOUND) as raw:
            with client_context(cert).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                check(sock.version() in ("TLSv1.2", "TLSv1.3"), f"TLS version {sock.version()}")
                client = FrameClient(sock)
                client.login("tess")
                # A frame split across TLS records, then many frames in one record.
                frame = tlv(ECHO, b"split")
                client.send_raw(frame[:6])
                client.send_raw(frame[6:])
                client.expect(ECHO, b"split")
                client.send_raw(b"".join(tlv(ECHO, f"many {i}") for i in range(50)))
                for i in range(50):
                    client.expect(ECHO, f"many {i}")

    def demo_client(*arguments):
        """Runs `dinx-demo client --script` with these connection options: (exit code, output)."""
        child = spawn([demo, "client", "--script", "--host", "127.0.0.1", *arguments],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = child.communicate(timeout=BOUND * 2)
        except subprocess.TimeoutExpired:
            kill(child)
            raise CheckFailed(f"dinx-demo client {' '.join(arguments)} still runs after "
                              f"{BOUND * 2} s")
        return child.returncode, output.decode(errors="replace")

    def demo_client_speaks_tls_and_wss():
        # The project's own client, verifying the gate's certificate, over TCP+TLS and wss.
        for arguments in (["--port", str(tls_port), "--tls", "--ca", str(cert)],
                          ["--port", str(wss_port), "--ws", "/ws", "--tls", "--ca", str(cert)]):
            code, output = demo_client(*arguments)
            check(code == 0, f"dinx-demo client {' '.join(arguments)} exited {code}:\n{output}")
        # A certificate it was not told to trust is refused, not talked to.
        other = make_temp_dir("dinx-tls-other-ca-")
        other_cert, _ = make_certificate(other)
        code, output = demo_client("--port", str(tls_port), "--tls", "--ca", str(other_cert))
        check(code == 1 and "certificate verify failed" in output,
              f"a client trusting another CA exited {code}:\n{output}")

    def plain_tlv_to_the_tls_port_is_closed():
        sock = connect(tls_port)
        try:
            sock.sendall(tlv(LOGIN, "plain") + tlv(ECHO, b"plain"))
            got, elapsed = read_until_closed(sock)
        finally:
            sock.close()
        check(b"welcome" not in got and b"plain" not in got,
              f"plain TLV on the TLS port was answered in clear: {got!r}")
        # At most a TLS alert record (content type 21) before the close.
        check(not got or got[0] == 21, f"plain TLV got non-alert bytes {got[:40]!r}")
        print(f"     closed after {elapsed * 1000:.0f} ms, {len(got)} bytes of alert")

    async def websockets_over_tls():
        async with websockets.connect(f"wss://127.0.0.1:{wss_port}/ws", ssl=client_context(cert),
                                      open_timeout=BOUND, close_timeout=BOUND) as ws:
            await ws.send(tlv(LOGIN, "wendy") + tlv(ECHO, b"over wss"))
            frames = await ws_frames(ws, 2)
            check(sorted(frames) == [(LOGIN, b"welcome wendy"), (ECHO, b"over wss")],
                  f"wss replies {[show(f) for f in frames]}")
            await ws.close()
            check(ws.close_code == 1000, f"close 1000 over wss answered with {ws.close_code}")

    def plain_websocket_to_the_wss_port_is_closed():
        sock = connect(wss_port)
        try:
            sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         b"Sec-WebSocket-Version: 13\r\n\r\n")
            got, _ = read_until_closed(sock)
        finally:
            sock.close()
        check(b"HTTP" not in got, f"a plain upgrade on the wss port was answered: {got[:80]!r}")

    def unfinished_tls_handshakes_are_closed():
        limit = HANDSHAKE_TIMEOUT_MS / 1000
        # A TLS record header announcing a 512-byte ClientHello, and 10 bytes of it.
        half_hello = bytes([22, 3, 1, 2, 0]) + bytes([1, 0, 1, 252]) + b"\x03\x03"
        for port, what in ((tls_port, "TCP+TLS"), (wss_port, "WebSocket over TLS")):
            for sent in (b"", half_hello):
                got, elapsed = time_until_closed(port, lambda s: s.sendall(sent), limit + 3)
                check_closed_at_limit(elapsed, HANDSHAKE_TIMEOUT_MS, "client_handshake_timeout_ms",
                                      f"{what} after {len(sent)} bytes of handshake")
                check(not got or got[0] == 21, f"{what}: got {got[:40]!r} before the close")
        # A real client that stops after its ClientHello: Python's ssl never gets to finish.
        context = client_context(cert)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        client = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
        try:
            client.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        # The ServerHello arrives, never our Finished.
        _, elapsed = time_until_closed(tls_port, lambda s: s.sendall(hello), limit + 3)
        check_closed_at_limit(elapsed, HANDSHAKE_TIMEOUT_MS, "client_handshake_timeout_ms",
                              "a client stuck after its ClientHello")

    def tls_client(name):
        """A logged-in TLV client over TLS that tells a close_notify from a bare TCP close."""
        context = client_context(cert)
        # OpenSSL 3 would take a bare TCP close for a close_notify under this option.
        context.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        raw = socket.create_connection(("127.0.0.1", tls_port), timeout=BOUND)
        sock = context.wrap_socket(raw, server_hostname="127.0.0.1", suppress_ragged_eofs=False)
        client = FrameClient(sock)
        client.login(name)
        return client

    def how_tls_ended(sock):
        """'close_notify' when the server ended TLS properly, else what happened."""
        try:
            rest = sock.recv(4096)
            return "close_notify" if not rest else f"more bytes {rest[:40]!r}"
        except ssl.SSLError as error:
            if isinstance(error, ssl.SSLEOFError) or "UNEXPECTED_EOF" in str(error.reason):
                return f"TCP closed without close_notify ({error})"
            return f"{type(error).__name__}: {error}"
        except OSError as error:
            return f"{type(error).__name__}: {error}"

    def kicked_tls_client_gets_close_notify():
        older, newer = tls_client("tom"), tls_client("tom")
        try:
            msg_id, payload = older.next_frame()
            check(msg_id == KICK_MSG_ID and b"replaced" in payload,
                  f"the older login got {show((msg_id, payload))}")
            ended = how_tls_ended(older.sock)
            check(ended == "close_notify", f"after the kick: {ended} (RFC 8446 6.1: each party "
                                           "MUST send a close_notify before closing)")
        finally:
            older.close()
            newer.close()

    def drain_sends_close_notify():
        # Last: it stops the cluster.
        client = tls_client("drained")
        try:
            cluster.drain()
            ended = how_tls_ended(client.sock)
        finally:
            client.close()
        cluster.check_drained()
        if ended.startswith("TCP closed without close_notify"):
            raise AssertionError(
                "server bug: a drain (SIGTERM) closes TLS clients' TCP connections without a "
                "close_notify (RFC 8446 6.1: each party MUST send one before closing its write "
                f"side); Python ssl got: {ended}. NodeShard's stop calls ClientSession::close, "
                "i.e. TcpTransport::close, which skips the layer's say_goodbye "
                "(TlsLayer::say_goodbye would send it, as it does for a kick)")
        check(ended == "close_notify", f"after SIGTERM: {ended}")

    def config_mistakes_name_the_tls_cert_line():
        for what, cert_name, cert_text, words in (
                ("a missing certificate", "missing.pem", None, "tls_cert"),
                ("a certificate that is not PEM", "notpem.pem",
                 "this is not a certificate\n", "not a PEM certificate")):
            conf = make_temp_dir("dinx-tls-conf-")
            (conf / "route.toml").write_bytes((cluster.dir / "route.toml").read_bytes())
            (conf / "key.pem").write_bytes((cluster.dir / "key.pem").read_bytes())
            if cert_text is not None:
                (conf / cert_name).write_text(cert_text)
            ports = free_ports(2)
            text = cluster.write(listeners=listeners(*ports, cert=cert_name), directory=conf)
            line = line_of(text, f'tls_cert = "{cert_name}"')
            code, output = run_refused(demo, conf)
            check(code == 2, f"{what}: exit code {code}, expected 2; output:\n{output}")
            where = f"{conf / 'dinx.toml'}:{line}: "
            check(where in output, f"{what}: the output does not name {where!r}:\n{output}")
            check(words in output and cert_name in output,
                  f"{what}: the output does not say {words!r} about {cert_name}:\n{output}")
            check(not any(map(port_accepts, ports)), f"{what}: a listener opened")
            print(f"     {what}: {output.strip().splitlines()[-1]}")

    return [
        ("openssl s_client logs in and echoes over TCP+TLS", openssl_s_client_logs_in),
        ("Python ssl speaks TLV over TLS (split and batched frames)", python_ssl_speaks_tlv),
        ("dinx-demo client --tls (and --ws --tls) runs the script, refuses an untrusted CA",
         demo_client_speaks_tls_and_wss),
        ("plain TLV bytes to the TLS port get the connection closed, no reply",
         plain_tlv_to_the_tls_port_is_closed),
        ("websockets over wss:// logs in, echoes and closes 1000", websockets_over_tls),
        ("a plain WebSocket upgrade to the wss port gets no HTTP answer",
         plain_websocket_to_the_wss_port_is_closed),
        ("a TLS handshake not done within client_handshake_timeout_ms is closed",
         unfinished_tls_handshakes_are_closed),
        ("a client replaced by a newer login gets the kick frame, then a close_notify",
         kicked_tls_client_gets_close_notify),
        ("a missing or non-PEM tls_cert exits 2 naming its dinx.toml line",
         config_mistakes_name_the_tls_cert_line),
        ("SIGTERM drains the gate: an open TLS client gets a close_notify, the process exits 0",
         drain_sends_close_notify),
    ]


def main():
    demo = demo_from_argv()
    cluster = Cluster(demo, "tls")
    try:
        cert, _ = make_certificate(cluster.dir)
    except Exception as error:
        print(f"FAIL no certificate: {error}")
        return 1
    tls_port, wss_port = free_ports(2)
    cluster.write(settings=f"client_handshake_timeout_ms = {HANDSHAKE_TIMEOUT_MS}",
                  listeners=listeners(tls_port, wss_port))
    return run_on_cluster(cluster, "TLS listeners",
                          make_checks(cluster, tls_port, wss_port, cert, demo),
                          wait_ports=(tls_port, wss_port))


if __name__ == "__main__":
    sys.exit(main())
