"""What the external-client tests share: a demo cluster (gate-1, im-1, im-2) in one dinx-demo
process started from a temporary conf dir, the frame layouts, blocking frame clients, and a tiny
check runner.

The scripts drive the gate with clients dinx did not write (the `websockets` library, Python's
`ssl` and `urllib`, the openssl CLI), so they pin what a stranger sees on the wire.

Every wait is bounded and awaits a condition (a port accepting, a frame arriving, a socket
closing); the child is killed with its process group at exit, whatever happened, and dies with
this process even when it is SIGKILLed (PR_SET_PDEATHSIG).
"""

import asyncio
import atexit
import collections
import ctypes
import fcntl
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# How long a node may take to open its ports: generous, a loaded CI machine is slow to exec.
START_TIMEOUT = 10.0
# The longest any single answer may take (a reply, a close, a refused config).
BOUND = 5.0
# The longest one check may run.
CHECK_TIMEOUT = 30.0

ERROR_MSG_ID = 0xFFFF_FFFF
KICK_MSG_ID = 0xFFFF_FFFE
LOGIN, BROADCAST, ECHO = 1, 4, 6


class CheckFailed(Exception):
    """A check saw something other than what it expects."""


class Skip(Exception):
    """A check that cannot pass because of a known server bug, named in the message."""


def check(condition, message):
    """Fails the running check with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)


# --- frames ------------------------------------------------------------------------------------


def tlv(msg_id, data=b""):
    """A zinx TLV frame: [msgID u32 BE][dataLen u32 BE][data]."""
    data = data.encode() if isinstance(data, str) else data
    return struct.pack(">II", msg_id, len(data)) + data


def ltv(msg_id, data=b""):
    """A zinx LTV frame: [dataLen u32 LE][msgID u32 LE][data]."""
    data = data.encode() if isinstance(data, str) else data
    return struct.pack("<II", len(data), msg_id) + data


def split_frames(buffer, layout="tlv"):
    """The whole frames at the start of `buffer` as (msg_id, payload), and the bytes left."""
    frames = []
    while len(buffer) >= 8:
        if layout == "tlv":
            msg_id, size = struct.unpack(">II", buffer[:8])
        else:
            size, msg_id = struct.unpack("<II", buffer[:8])
        if len(buffer) < 8 + size:
            break
        frames.append((msg_id, bytes(buffer[8 : 8 + size])))
        buffer = buffer[8 + size :]
    return frames, bytes(buffer)


def show(frame):
    """A frame for messages: `6 b'ping'`."""
    msg_id, payload = frame
    return f"{msg_id} {payload[:200]!r}"


# --- sockets -----------------------------------------------------------------------------------


# Ports handed to the nodes a test starts come from outside the kernel's ephemeral range (another
# test's outgoing connection could take one before the node binds it) and are claimed with a
# record lock on a file shared with the C++ tests (tests/support/child_process.cpp), which the
# kernel drops when this process ends.
CLAIMS_FILE = "/tmp/dinx-test-ports.lock"
LOWEST_TEST_PORT = 10000
_claims = {"fd": None, "ports": set()}


def _ephemeral_range():
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return (low, high) if low <= high else (32768, 60999)
    except (OSError, ValueError):
        return 32768, 60999


def _claim(port):
    """True when no test claimed `port` yet and it binds now; it is ours until we exit."""
    if port in _claims["ports"]:
        return False  # a record lock does not exclude its own process
    if _claims["fd"] is None:
        _claims["fd"] = os.open(CLAIMS_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.lockf(_claims["fd"], fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
    except OSError:
        return False  # another test's
    _claims["ports"].add(port)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_ports(count):
    """`count` distinct ports of 127.0.0.1, free now and claimed by this test until it exits."""
    low, high = _ephemeral_range()
    candidates = [p for p in range(LOWEST_TEST_PORT, 65536) if p < low or p > high]
    start = random.randrange(len(candidates))
    ports = []
    for port in candidates[start:] + candidates[:start]:
        if len(ports) == count:
            break
        if _claim(port):
            ports.append(port)
    if len(ports) < count:
        raise RuntimeError("no free test port left outside the ephemeral range")
    return ports


def port_accepts(port):
    """True when a TCP connect to 127.0.0.1:port succeeds now."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def connect(port, timeout=BOUND):
    """A blocking TCP connection to 127.0.0.1:port whose reads time out after `timeout`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def receive(sock, left):
    """What one recv brings within `left` seconds: bytes, b"" when the peer closed (EOF or
    reset), None when nothing came in time."""
    sock.settimeout(left)
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None
    except (ConnectionResetError, BrokenPipeError):
        return b""


def receive_by(sock, deadline, late, closed):
    """What one recv brings before `deadline` (b"" when nothing came yet); fails the check with
    `late` once the deadline has passed, with `closed` when the peer closed."""
    left = deadline - time.monotonic()
    check(left > 0, late)
    chunk = receive(sock, left)
    check(chunk is None or chunk, closed)
    return chunk or b""


def read_until_closed(sock, timeout=BOUND):
    """Reads until the peer closes (EOF or reset); returns (bytes read, seconds it took).
    Fails when the connection is still open after `timeout`."""
    start = time.monotonic()
    received = bytearray()
    while True:
        left = timeout - (time.monotonic() - start)
        check(left > 0, f"the connection is still open after {timeout} s "
                        f"(got {bytes(received[:80])!r})")
        chunk = receive(sock, left)
        if chunk is None:
            continue
        if not chunk:
            return bytes(received), time.monotonic() - start
        received += chunk


def time_until_closed(port, send, timeout):
    """Connects, lets `send(sock)` write (bytes it returns count as received), then reads until
    the server closes: (bytes received, seconds from the connect to the close)."""
    sock = connect(port)
    start = time.monotonic()
    try:
        got = send(sock) or b""
        got += read_until_closed(sock, timeout)[0]
    finally:
        sock.close()
    return got, time.monotonic() - start


def check_closed_at_limit(elapsed, limit_ms, setting, what):
    """Fails unless `what` was closed when the `setting` limit of `limit_ms` ran out: not
    before 0.8 of it, nor more than 1.5 s after it (a loaded machine is late, never early)."""
    limit = limit_ms / 1000
    check(0.8 * limit <= elapsed <= limit + 1.5,
          f"{what} was closed after {elapsed:.2f} s; {setting} is {limit_ms} "
          f"(allowed {0.8 * limit:.2f} to {limit + 1.5:.2f} s)")


class FrameClient:
    """A blocking client of a frame port (TLV or LTV), over TCP or a TLS socket."""

    def __init__(self, sock, layout="tlv"):
        self.sock = sock
        self.layout = layout
        self.buffer = b""
        self.ready = collections.deque()  # frames decoded and not returned yet
        self.seen = []  # frames read and passed over while waiting for another

    @classmethod
    def open(cls, port, layout="tlv"):
        return cls(connect(port), layout)

    def frame(self, msg_id, data=b""):
        return tlv(msg_id, data) if self.layout == "tlv" else ltv(msg_id, data)

    def send(self, msg_id, data=b""):
        self.sock.sendall(self.frame(msg_id, data))

    def send_raw(self, data):
        self.sock.sendall(data)

    def next_frame(self, timeout=BOUND):
        deadline = time.monotonic() + timeout
        while not self.ready:
            frames, self.buffer = split_frames(self.buffer, self.layout)
            self.ready.extend(frames)
            if frames:
                break
            self.buffer += receive_by(
                self.sock, deadline, f"no frame within {timeout:.1f} s (frames passed over: "
                                     f"{[show(f) for f in self.seen[-5:]]})",
                f"the server closed the connection while a frame was awaited "
                f"(pending bytes {self.buffer[:40]!r})")
        return self.ready.popleft()

    def expect(self, msg_id, payload, timeout=BOUND):
        """Reads frames until (msg_id, payload) arrives; an error frame fails at once, others
        (broadcasts of other checks) are passed over."""
        payload = payload.encode() if isinstance(payload, str) else payload
        deadline = time.monotonic() + timeout
        while True:
            got = self.next_frame(max(0.0, deadline - time.monotonic()))
            if got == (msg_id, payload):
                return
            check(got[0] != ERROR_MSG_ID,
                  f"error frame {show(got)} while waiting for {show((msg_id, payload))}")
            self.seen.append(got)

    def login(self, name):
        self.send(LOGIN, name)
        self.expect(LOGIN, f"welcome {name}")

    def close(self):
        self.sock.close()


# --- WebSocket clients (the websockets library) ------------------------------------------------


async def within(awaitable, what, timeout=BOUND):
    """Awaits `awaitable`; fails the check with `what` when it takes longer than `timeout`."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise CheckFailed(f"{what} within {timeout} s") from None


async def ws_frames(ws, count, timeout=BOUND):
    """The next `count` frames; every message must be binary and hold whole TLV frames."""
    frames = []
    while len(frames) < count:
        message = await within(ws.recv(), f"after {[show(f) for f in frames]}, no message",
                               timeout)
        check(isinstance(message, bytes), f"a text message from the server: {message[:80]!r}")
        got, rest = split_frames(message)
        check(got and not rest, f"a binary message that is not whole TLV frames: {message[:60]!r}")
        frames.extend(got)
    return frames


# --- the cluster -------------------------------------------------------------------------------

_children = []
_temp_dirs = []


def _cleanup():
    for child in _children:
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()
    for path in _temp_dirs:
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_cleanup)


def _exit_on_signal(signum, _frame):
    sys.exit(128 + signum)  # runs atexit: the children die with us


for _signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_signal, _exit_on_signal)

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def spawn(argv, **options):
    """Starts a child in its own process group that is SIGKILLed when this process dies, even
    by SIGKILL (ctest's timeout); it is also killed at exit."""
    parent = os.getpid()

    def die_with_parent():
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl
            os._exit(1)

    child = subprocess.Popen(argv, start_new_session=True, preexec_fn=die_with_parent, **options)
    _children.append(child)
    return child


def kill(child):
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def make_temp_dir(prefix):
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _temp_dirs.append(path)
    return path


def openssl_path():
    """The openssl CLI: $DINX_OPENSSL (set by ctest) or the one on PATH."""
    path = os.environ.get("DINX_OPENSSL") or shutil.which("openssl")
    check(path, "the openssl CLI is not installed (apt-get install openssl)")
    return path


def make_certificate(directory, name="localhost"):
    """A self-signed P-256 certificate for 127.0.0.1 and localhost: (cert path, key path)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    result = subprocess.run(
        [openssl_path(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", f"/CN={name}",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, timeout=30)
    check(result.returncode == 0, f"openssl req failed: {result.stderr.decode(errors='replace')}")
    return cert, key


def line_of(text, part, start=0):
    """The 1-based line on which `part` first starts in `text` after offset `start`."""
    at = text.index(part, start)
    return text.count("\n", 0, at) + 1


class Cluster:
    """gate-1 (id 1), im-1 (id 2) and im-2 (id 3) of the demo on free ports, in a temporary
    conf dir with conf/route.toml, plus the listeners a test adds after gate-1's table."""

    def __init__(self, demo, name):
        self.demo = demo
        self.dir = make_temp_dir(f"dinx-{name}-")
        self.gate_port, self.link_port, self.im1_port, self.im2_port = free_ports(4)
        self.process = None
        self.log_path = self.dir / "dinx-demo.log"
        self.nodes_text = ""
        self.metrics_ports = {}  # node id -> its metrics_port, once nodes(metrics=True) chose them
        shutil.copyfile(REPO / "conf" / "route.toml", self.dir / "route.toml")

    def nodes(self, settings="", listeners="", metrics=False):
        """dinx.toml: [cluster] with `settings` (TOML lines), gate-1 with `listeners` (its
        [[gate.listeners]] tables), im-1 and im-2; with `metrics`, each node has a metrics_port
        (free ports chosen once, in metrics_ports)."""
        while metrics and not self.metrics_ports:
            ports = free_ports(3)  # (the nodes' ports were free too: none may be chosen twice)
            if not set(ports) & {self.gate_port, self.link_port, self.im1_port, self.im2_port}:
                self.metrics_ports = dict(zip((1, 2, 3), ports))

        def metrics_line(id_):
            return f"metrics_port = {self.metrics_ports[id_]}\n" if metrics else ""

        text = "# written by tests/external\n"
        if settings:
            text += "[cluster]\n" + settings.strip() + "\n\n"
        text += (
            "[[gate]]\nid = 1\nname = \"gate-1\"\ntype = \"frontend\"\nhost = \"127.0.0.1\"\n"
            f"port = {self.gate_port}\nlink_port = {self.link_port}\n{metrics_line(1)}\n"
        )
        if listeners:
            text += listeners.strip() + "\n\n"
        for id_, name, port in ((2, "im-1", self.im1_port), (3, "im-2", self.im2_port)):
            text += (
                f"[[im]]\nid = {id_}\nname = \"{name}\"\ntype = \"backend\"\n"
                f"host = \"127.0.0.1\"\nport = {port}\nparallel = true\n{metrics_line(id_)}\n"
            )
        return text

    def write(self, settings="", listeners="", directory=None, metrics=False):
        """Writes dinx.toml (into `directory`, else the cluster's dir); returns its text."""
        text = self.nodes(settings, listeners, metrics)
        (directory or self.dir).joinpath("dinx.toml").write_text(text)
        if directory is None:
            self.nodes_text = text
        return text

    def start(self, wait_ports=()):
        """Starts `dinx-demo --conf DIR --id 1 --id 2 --id 3` and waits until its nodes and the
        `wait_ports` accept, then until an echo goes through gate-1 to an im node."""
        argv = [self.demo, "--conf", str(self.dir), "--id", "1", "--id", "2", "--id", "3"]
        with open(self.log_path, "wb") as log:
            self.process = spawn(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        for port in (self.gate_port, self.im1_port, self.im2_port, *wait_ports):
            while not port_accepts(port):
                check(self.process.poll() is None,
                      f"dinx-demo exited with {self.process.returncode} during start-up:\n"
                      + self.logs())
                check(time.monotonic() < deadline,
                      f"port {port} does not accept {START_TIMEOUT} s after start:\n" + self.logs())
                time.sleep(0.02)
        # Another program that took one of our free ports would pass the wait above while our
        # node exited with "cannot start".
        check(self.process.poll() is None, "dinx-demo exited during start-up:\n" + self.logs())
        self._wait_echo(deadline)

    def _wait_echo(self, deadline):
        # The gate dials the im nodes in the background; a request racing the first dial may get
        # `unavailable`, which is not what the checks are about.
        while True:
            client = FrameClient.open(self.gate_port)
            try:
                client.send(ECHO, b"ready?")
                got = client.next_frame()
            finally:
                client.close()
            if got == (ECHO, b"ready?"):
                return
            check(time.monotonic() < deadline, f"no echo through gate-1: {show(got)}")
            time.sleep(0.05)

    def logs(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def stop(self):
        if self.process is not None:
            kill(self.process)

    def drain(self):
        """SIGTERM: the nodes say goodbye to their clients and the process exits."""
        self.process.send_signal(signal.SIGTERM)

    def check_drained(self):
        """Fails unless the process exits 0 within BOUND of a drain()."""
        try:
            code = self.process.wait(BOUND)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"dinx-demo still runs {BOUND} s after SIGTERM") from None
        check(code == 0, f"dinx-demo exited with {code} after SIGTERM")


def run_refused(demo, conf_dir, timeout=BOUND):
    """Runs `dinx-demo --conf conf_dir`, which must exit within `timeout`: (exit code, output)."""
    child = spawn([demo, "--conf", str(conf_dir)], stdout=subprocess.PIPE,
                  stderr=subprocess.STDOUT)
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(child)
        raise CheckFailed(f"dinx-demo --conf {conf_dir} still runs {timeout} s after start")
    return child.returncode, output.decode(errors="replace")


# --- running checks ----------------------------------------------------------------------------


async def _bounded(function):
    try:
        return await asyncio.wait_for(function(), CHECK_TIMEOUT)
    except asyncio.TimeoutError:
        raise CheckFailed(f"the check did not finish within {CHECK_TIMEOUT} s") from None


def run_checks(title, checks, cluster=None):
    """Runs each (name, function) in order; a coroutine function runs in a fresh event loop.
    Prints one line per check and returns the exit code: 1 when any check failed."""
    failed, skipped = [], []
    print(f"== {title}", flush=True)
    for name, function in checks:
        start = time.monotonic()
        if cluster is not None and cluster.process.poll() is not None:
            # A crash would make every later check wait out its bounds for nothing.
            failed.append(name)
            print(f"FAIL {name}: dinx-demo is gone (exit {cluster.process.returncode})")
            continue
        try:
            if asyncio.iscoroutinefunction(function):
                asyncio.run(_bounded(function))
            else:
                function()
            print(f"PASS {name} ({time.monotonic() - start:.2f} s)", flush=True)
        except Skip as skip:
            skipped.append(name)
            print(f"SKIP {name}: {skip}", flush=True)
        except Exception as error:  # every failure is reported, then the next check runs
            failed.append(name)
            what = str(error) or type(error).__name__
            print(f"FAIL {name}: {what}", flush=True)
            if not isinstance(error, CheckFailed):
                traceback.print_exc()
    print(f"== {len(checks) - len(failed) - len(skipped)} passed, {len(failed)} failed, "
          f"{len(skipped)} skipped", flush=True)
    if failed:
        print("failed: " + "; ".join(failed))
        if cluster is not None:
            print(f"---- dinx-demo log (last 60 lines of {cluster.log_path}):")
            print("\n".join(cluster.logs().splitlines()[-60:]))
    return 1 if failed else 0


def run_on_cluster(cluster, title, checks, wait_ports=()):
    """Starts `cluster`, runs `checks` on it and stops it: the exit code of a script's main."""
    try:
        cluster.start(wait_ports=wait_ports)
    except Exception as error:
        print(f"FAIL the cluster did not start: {error}")
        return 1
    try:
        return run_checks(title, checks, cluster)
    finally:
        cluster.stop()


def demo_from_argv():
    """The dinx-demo path, the scripts' only argument."""
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        print(f"usage: {sys.argv[0]} PATH/TO/dinx-demo", file=sys.stderr)
        sys.exit(2)
    return sys.argv[1]
