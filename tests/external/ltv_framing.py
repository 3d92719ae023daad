#!/usr/bin/python3
"""A gate listener with framing = "ltv" ([dataLen u32 LE][msgID u32 LE][data], zinx's
little-endian packet) next to the TLV client port, driven with raw sockets.

Usage: ltv_framing.py PATH/TO/dinx-demo   (exit 0 when every check passed)
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import struct

from cluster import (BOUND, BROADCAST, ECHO, Cluster, FrameClient, check, connect,
                     demo_from_argv, free_ports, ltv, read_until_closed, run_on_cluster, tlv)

MAX_PACKET = 4096


def make_checks(cluster, ltv_port):
    def ltv_frames_get_ltv_replies():
        client = FrameClient.open(ltv_port, "ltv")
        try:
            client.login("lena")
            client.send(ECHO, b"\x01\x02\x03 little endian")
            client.expect(ECHO, b"\x01\x02\x03 little endian")
            # An empty payload, a frame split inside its header, and frames batched in one write.
            client.send(ECHO, b"")
            client.expect(ECHO, b"")
            frame = ltv(ECHO, b"split")
            client.send_raw(frame[:3])
            client.send_raw(frame[3:])
            client.expect(ECHO, b"split")
            client.send_raw(b"".join(ltv(ECHO, f"batch {i}") for i in range(20)))
            for i in range(20):
                client.expect(ECHO, f"batch {i}")
            # The raw bytes of a reply: length first, little-endian.
            client.send_raw(ltv(ECHO, b"abc"))
            client.sock.settimeout(BOUND)
            raw = b""
            while len(raw) < 11:
                chunk = client.sock.recv(11 - len(raw))
                check(chunk, f"closed after {raw!r}")
                raw += chunk
            check(raw == struct.pack("<II", 3, ECHO) + b"abc", f"the reply's bytes are {raw!r}")
        finally:
            client.close()

    def max_packet_size_bounds_ltv_frames():
        client = FrameClient.open(ltv_port, "ltv")
        try:
            payload = b"m" * MAX_PACKET  # exactly the limit passes
            client.send(ECHO, payload)
            client.expect(ECHO, payload)
            client.send_raw(struct.pack("<II", MAX_PACKET + 1, ECHO))
            got, elapsed = read_until_closed(client.sock)
            check(not got, f"a header announcing {MAX_PACKET + 1} bytes got {got[:40]!r}")
        finally:
            client.close()

    def tlv_bytes_on_the_ltv_port_are_refused():
        # TLV login `00000001 00000005 hello` read as LTV announces 0x01000000 bytes.
        sock = connect(ltv_port)
        try:
            sock.sendall(tlv(1, b"hello"))
            got, _ = read_until_closed(sock)
            check(b"welcome" not in got, f"TLV bytes on the LTV port were answered: {got!r}")
        finally:
            sock.close()

    def tlv_port_works_at_the_same_time():
        little = FrameClient.open(ltv_port, "ltv")
        big = FrameClient.open(cluster.gate_port, "tlv")
        try:
            little.login("lefty")
            big.login("bigsby")
            for i in range(20):
                little.send(ECHO, f"ltv {i}")
                big.send(ECHO, f"tlv {i}")
                big.expect(ECHO, f"tlv {i}")
                little.expect(ECHO, f"ltv {i}")
            # One session table: a broadcast reaches each client in its own framing.
            little.send(BROADCAST, "from ltv")
            little.expect(BROADCAST, "lefty: from ltv")
            big.expect(BROADCAST, "lefty: from ltv")
            big.send(BROADCAST, "from tlv")
            big.expect(BROADCAST, "bigsby: from tlv")
            little.expect(BROADCAST, "bigsby: from tlv")
            # And the TLV port still refuses a big TLV header while the LTV port goes on.
            big.send_raw(struct.pack(">II", ECHO, MAX_PACKET + 1))
            got, _ = read_until_closed(big.sock)
            check(not got, f"an oversized TLV header got {got[:40]!r}")
            little.send(ECHO, "still here")
            little.expect(ECHO, "still here")
        finally:
            little.close()
            big.close()

    return [
        ("LTV frames on the ltv listener get LTV replies (login, echo, split, batched)",
         ltv_frames_get_ltv_replies),
        ("an LTV header announcing more than max_packet_size closes the connection",
         max_packet_size_bounds_ltv_frames),
        ("TLV bytes on the ltv listener are read as LTV and refused",
         tlv_bytes_on_the_ltv_port_are_refused),
        ("the TLV port works beside it, one session table for both",
         tlv_port_works_at_the_same_time),
    ]


def main():
    demo = demo_from_argv()
    cluster = Cluster(demo, "ltv")
    (ltv_port,) = free_ports(1)
    cluster.write(settings=f"max_packet_size = {MAX_PACKET}", listeners=f"""
[[gate.listeners]]
port = {ltv_port}
framing = "ltv"
""")
    return run_on_cluster(cluster, "LTV framing", make_checks(cluster, ltv_port),
                          wait_ports=(ltv_port,))


if __name__ == "__main__":
    sys.exit(main())
