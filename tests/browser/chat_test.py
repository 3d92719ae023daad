#!/usr/bin/python3
"""Two headless Chromium pages and a plain TCP client chat through one dinx gate.

    chat_test.py DINX_DEMO [--screenshot PNG] [--chromium PATH]

Starts dinx-demo (gate-1, im-1, im-2 on free ports, gate-1 with a WebSocket listener serving
demo/web), then Chromium, driven through its DevTools protocol over a WebSocket (Debian's
python3-websockets; no npm, no selenium). alice and bob chat from the demo's page, carol from a
raw TCP socket speaking zinx TLV: broadcasts both ways, a room shared by a page and the socket,
an error frame, a kick. Every wait polls a condition within a bound; the whole run is bounded
too. Chromium and dinx-demo are killed at exit, whatever happened. Exit 0 when every step saw
what it expected, else 1 after a FAILED: line and what each player had received.
"""

import argparse
import asyncio
import base64
import ctypes
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "external"))
from cluster import free_ports  # noqa: E402  (ports claimed like every other test's)

import websockets

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 10  # the bound of one wait for a condition
TOTAL_SECONDS = 40  # the bound of the conversation, start-up included (stopping adds <= 12 s)
VIEWPORT = (900, 600)

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


class Failure(Exception):
    """A step did not see what it expected."""


def _die_with_parent():
    # Runs in the child: if this script is killed outright (a ctest timeout), so is the child.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv, log_path, env=None):
    """Starts `argv` in a process group of its own, its output going to `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=_die_with_parent)


def stop(process):
    """Ends a process group: SIGTERM, a grace period, then SIGKILL for whatever is left (a stuck
    leader, Chromium's helpers). Returns the leader's exit code (None if it would not die)."""
    if process is None:
        return None
    try:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(3)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is empty already
    try:
        return process.wait(3)
    except subprocess.TimeoutExpired:
        return None


def tail(path, lines=30):
    """The last lines of a log, without Chromium's complaints that there is no D-Bus."""
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError as error:
        return f"({error})"
    return "\n".join([line for line in text if ":ERROR:dbus/" not in line][-lines:])


async def wait_until(what, check, timeout=WAIT_SECONDS):
    """Polls the coroutine function `check` until it returns something true, which is returned."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise Failure(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.05)


async def port_accepts(port):
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


def step(text):
    print(f"  ok  {text}", flush=True)


# ---- the cluster ----

def write_conf(conf_dir, ports):
    gate, link, web, im1, im2 = ports
    web_root = json.dumps(str(ROOT / "demo" / "web"))  # a JSON string is a TOML basic string
    conf_dir.mkdir()
    shutil.copy(ROOT / "conf" / "route.toml", conf_dir / "route.toml")
    (conf_dir / "dinx.toml").write_text(f"""\
# Written by tests/browser/chat_test.py: gate-1 with a WebSocket listener, im-1, im-2.
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = {gate}
link_port = {link}

[[gate.listeners]]
port = {web}
protocol = "websocket"
path = "/ws"
web_root = {web_root}

[[im]]
id = 2
name = "im-1"
type = "backend"
host = "127.0.0.1"
port = {im1}
parallel = true

[[im]]
id = 3
name = "im-2"
type = "backend"
host = "127.0.0.1"
port = {im2}
parallel = true
""")


# ---- Chromium through DevTools ----

class DevTools:
    """One DevTools WebSocket: commands matched to their answers by id; page problems kept."""

    def __init__(self, name, ws):
        self.name = name
        self.ws = ws
        self.next_id = 0
        self.waiting = {}
        self.problems = []  # console errors, exceptions and failed loads of the page
        self.exceptions = 0
        self.listener = asyncio.create_task(self._listen())

    @classmethod
    async def open(cls, name, url):
        # No ping: DevTools needs none, and the screenshot's answer is large (no size limit).
        ws = await websockets.connect(url, max_size=None, ping_interval=None, open_timeout=5)
        return cls(name, ws)

    async def _listen(self):
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if "id" in message:
                    future = self.waiting.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    self._note(message.get("method"), message.get("params", {}))
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"{self.name}: DevTools closed"))

    def _note(self, method, params):
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.exceptions += 1
            text = details.get("exception", {}).get("description", details.get("text"))
            self.problems.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.problems.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            entry = params["entry"]
            self.problems.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}")

    async def call(self, method, **params):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        await self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        try:
            answer = await asyncio.wait_for(future, WAIT_SECONDS)
        except asyncio.TimeoutError:
            raise Failure(f"{self.name}: no answer to {method} in {WAIT_SECONDS} s") from None
        if "error" in answer:
            raise Failure(f"{self.name}: {method} failed: {answer['error']}")
        return answer["result"]

    async def evaluate(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description", details.get("text"))
            raise Failure(f"{self.name}: {expression!r} threw: {text}")
        return result["result"].get("value")

    async def close(self):
        await self.ws.close()
        self.listener.cancel()


class Browser:
    """A headless Chromium of its own profile, and its DevTools port."""

    def __init__(self, chromium, work):
        self.profile = work / "chromium-profile"
        self.log = work / "chromium.log"
        self.process = spawn([
            chromium, "--headless=new", "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--no-proxy-server", "--disable-extensions",
            "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            # Two pages, one in the background: neither may be throttled.
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "about:blank",
        ], self.log)
        self.port = None

    async def devtools_url(self):
        """The browser's DevTools WebSocket, from <profile>/DevToolsActivePort once written: its
        first line is the port Chromium chose, its second the browser target's path."""
        async def written():
            if self.process.poll() is not None:
                raise Failure(f"chromium exited with {self.process.returncode}:\n"
                              f"{tail(self.log)}")
            try:
                lines = (self.profile / "DevToolsActivePort").read_text().splitlines()
            except OSError:
                return None
            return lines if len(lines) >= 2 else None
        port, path = await wait_until("chromium's DevToolsActivePort", written)
        self.port = int(port)
        return f"ws://127.0.0.1:{self.port}{path}"

    async def new_page(self, browser_devtools, name):
        """A new tab (Target.createTarget), driven through its own DevTools WebSocket."""
        target = await browser_devtools.call("Target.createTarget", url="about:blank")
        url = f"ws://127.0.0.1:{self.port}/devtools/page/{target['targetId']}"
        devtools = await DevTools.open(name, url)
        for domain in ("Page", "Runtime", "Log"):
            await devtools.call(f"{domain}.enable")
        return ChatPage(name, devtools)


class ChatPage:
    """The demo's chat page in one tab, driven through window.dinxChat."""

    def __init__(self, name, devtools):
        self.name = name
        self.devtools = devtools

    async def open(self, url):
        width, height = VIEWPORT
        await self.devtools.call("Emulation.setDeviceMetricsOverride", width=width,
                                 height=height, deviceScaleFactor=1, mobile=False)
        answer = await self.devtools.call("Page.navigate", url=url)
        if answer.get("errorText"):
            raise Failure(f"{self.name}: loading {url} failed: {answer['errorText']}")
        async def connected():
            try:
                return await self.devtools.evaluate("window.dinxChat?.status") == "open"
            except Failure:  # the old document's context went away under the call
                return False
        await wait_until(f"{self.name}'s page to connect", connected)

    async def type(self, input_id, text):
        """Types `text` into a field of the page and presses Enter, as a player would."""
        await self.devtools.evaluate(f"document.getElementById({json.dumps(input_id)}).focus()")
        await self.devtools.call("Input.insertText", text=text)
        enter = dict(key="Enter", code="Enter", windowsVirtualKeyCode=13)
        await self.devtools.call("Input.dispatchKeyEvent", type="keyDown", text="\r", **enter)
        await self.devtools.call("Input.dispatchKeyEvent", type="keyUp", **enter)

    async def has_status(self, wanted):
        return await self.devtools.evaluate("dinxChat.status") == wanted

    async def run(self, call):
        """Calls `dinxChat.<call>` in the page; false means the page was not connected."""
        if await self.devtools.evaluate(f"dinxChat.{call}") is False:
            raise Failure(f"{self.name}: dinxChat.{call} found no open socket")

    async def lines(self):
        return await self.devtools.evaluate("dinxChat.log")

    async def wait_line(self, wanted):
        await wait_line(f"{self.name}'s page", self.lines, wanted)


async def wait_line(who, lines, wanted):
    """Waits until `await lines()` holds a line `wanted`: a string, or a test of a line."""
    test = wanted if callable(wanted) else (lambda line: line == wanted)
    what = getattr(wanted, "what", wanted)

    async def received():
        return any(test(line) for line in await lines())
    await wait_until(f"{who} to receive {what!r}", received)
    step(f"{who} received {what!r}")


def starting(prefix):
    """A line test: the line starts with `prefix`."""
    def test(line):
        return line.startswith(prefix)
    test.what = prefix + "..."
    return test


# ---- the TCP player ----

class TcpPlayer:
    """A raw socket speaking zinx TLV to the gate's TCP port, recording every frame."""

    def __init__(self, name, reader, writer):
        self.name = name
        self.writer = writer
        self.frames = []  # "<msgID> <payload>" for every frame received
        self.closed = False
        self.task = asyncio.create_task(self._read(reader))

    @classmethod
    async def connect(cls, name, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(name, reader, writer)

    async def _read(self, reader):
        try:
            while True:
                msg_id, length = struct.unpack(">II", await reader.readexactly(8))
                data = await reader.readexactly(length)
                self.frames.append(f"{msg_id} {data.decode('utf-8', 'replace')}")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed = True

    def send(self, msg_id, text=""):
        data = text.encode()
        self.writer.write(struct.pack(">II", msg_id, len(data)) + data)

    async def lines(self):
        return self.frames

    async def wait_line(self, wanted):
        await wait_line(f"{self.name} (tcp)", self.lines, wanted)

    def close(self):
        self.writer.close()
        self.task.cancel()


# ---- the conversation ----

async def members_until(who, ask, lines, room, wanted):
    """Asks for `room`'s members until the answer is `wanted`: a node hears of a join made
    through another node one link hop later."""
    prefix = f"11 {room}:"
    asked = 0

    async def answers():
        return [line for line in await lines() if line.startswith(prefix)]

    async def listed():
        nonlocal asked
        count = len(await answers())
        await ask()
        asked += 1

        async def answered():
            return len(await answers()) > count
        await wait_until(f"{who}'s answer to '11 {room}'", answered)
        return (await answers())[-1] == f"{prefix} {wanted}"

    await wait_until(f"{who} to see {room} as '{wanted}'", listed)
    step(f"{who} sees '{prefix} {wanted}' (asked {asked} times)")


FRAME_READER_CHECK = r"""
(() => {
  // Three frames, one empty and one of multi-byte UTF-8, fed in two pieces split at every
  // byte, then byte by byte: the reader must give back the same three frames each time.
  const sent = [[4, "alice: hi"], [9, "lobby bob: grüße ✓"], [1, ""]];
  const parts = sent.map(([id, text]) => dinxChat.encodeFrame(id, text));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  const want = JSON.stringify(sent.map(([id, text]) => ({ id, text })));
  for (let split = 0; split <= all.length; split++) {
    const reader = new dinxChat.FrameReader();
    const got = [...reader.push(all.subarray(0, split)), ...reader.push(all.subarray(split))];
    if (JSON.stringify(got) !== want) return `split at ${split}: ${JSON.stringify(got)}`;
  }
  const reader = new dinxChat.FrameReader();
  const got = [];
  for (const byte of all) got.push(...reader.push(Uint8Array.of(byte)));
  return JSON.stringify(got) === want ? "ok" : `byte by byte: ${JSON.stringify(got)}`;
})()
"""


async def check_screenshot(page, path):
    # Only the tab in front draws frames: a background tab's screenshot would wait forever.
    await page.devtools.call("Page.bringToFront")
    shot = await page.devtools.call("Page.captureScreenshot", format="png")
    data = base64.b64decode(shot["data"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise Failure(f"the screenshot {path} is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    if (width, height) != VIEWPORT or len(data) < 8000:
        raise Failure(f"the screenshot {path} is {width}x{height}, {len(data)} bytes: "
                      f"expected {VIEWPORT[0]}x{VIEWPORT[1]} and at least 8000 bytes")
    step(f"alice's page is in {path} ({width}x{height}, {len(data)} bytes)")


async def start_cluster(args, work, state):
    """dinx-demo on a conf of free ports, listening; returns (tcp port, websocket port)."""
    ports = free_ports(5)
    gate_port, _, web_port, im1_port, im2_port = ports
    write_conf(work / "conf", ports)
    env = dict(os.environ, DINX_CLUSTER_SECRET=os.urandom(16).hex())
    demo = state["demo"] = spawn([args.demo, "--conf", str(work / "conf"), "--id", "1",
                                  "--id", "2", "--id", "3"], work / "dinx-demo.log", env)

    async def listening():
        if demo.poll() is not None:
            raise Failure(f"dinx-demo exited with {demo.returncode}")
        for port in (gate_port, web_port, im1_port, im2_port):
            if not await port_accepts(port):
                return False
        return True
    await wait_until("dinx-demo to listen", listening)
    step(f"dinx-demo listens: tcp {gate_port}, websocket {web_port}")
    return gate_port, web_port


async def open_pages(args, work, state, web_port):
    """Chromium with two tabs on the gate's page, both connected; returns the two pages."""
    browser = state["browser"] = Browser(args.chromium, work)
    root = state["root"] = await DevTools.open("browser", await browser.devtools_url())
    version = await root.call("Browser.getVersion")
    step(f"{version['product']} on DevTools port {browser.port}")
    pages = state["pages"] = [await browser.new_page(root, name) for name in ("alice", "bob")]
    page_url = f"http://127.0.0.1:{web_port}/"
    await asyncio.gather(*(page.open(page_url) for page in pages))
    step(f"both pages loaded {page_url} and connected to ws://127.0.0.1:{web_port}/ws")
    result = await pages[0].devtools.evaluate(FRAME_READER_CHECK)
    if result != "ok":
        raise Failure(f"the page's FrameReader: {result}")
    step("the page's FrameReader rebuilds frames split at every byte")
    return pages


async def chat(alice, bob, carol):
    """Logins, a room of bob (page) and carol (socket), broadcasts both ways."""
    # alice types into the page, which takes keyboard input (and draws) only in front.
    await alice.devtools.call("Page.bringToFront")
    await alice.type("name", "alice")  # alice uses the form; bob and the checks use dinxChat
    await bob.run("login('bob')")
    carol.send(1, "carol")
    await alice.wait_line("1 welcome alice")
    await bob.wait_line("1 welcome bob")
    await carol.wait_line("1 welcome carol")

    carol.send(7, "lobby")
    await carol.wait_line(starting("7 joined lobby"))
    await bob.run("join('lobby')")
    await bob.wait_line(starting("7 joined lobby"))

    async def carol_asks():
        carol.send(11, "lobby")
    await members_until("bob", lambda: bob.run("members('lobby')"), bob.lines, "lobby",
                        "bob carol")
    await members_until("carol", carol_asks, carol.lines, "lobby", "bob carol")

    await alice.type("broadcast-text", "hello from alice, grüße ✓")
    for player in (alice, bob, carol):
        await player.wait_line("4 alice: hello from alice, grüße ✓")

    await bob.run("sayRoom('hi lobby, bob here')")
    await bob.wait_line("9 lobby bob: hi lobby, bob here")
    await carol.wait_line("9 lobby bob: hi lobby, bob here")
    carol.send(9, "lobby hi bob, carol here")
    await bob.wait_line("9 lobby carol: hi bob, carol here")

    carol.send(4, "hello from carol — ¡hola!")
    for player in (alice, bob, carol):
        await player.wait_line("4 carol: hello from carol — ¡hola!")


async def alice_alone(alice):
    """alice's own room through the form, an error frame; her status names her."""
    await alice.type("room", "tea")
    await alice.wait_line("7 joined tea: 1 members")
    await alice.type("say-text", "anyone for tea?")
    await alice.wait_line("9 tea alice: anyone for tea?")
    status = await alice.devtools.evaluate("document.getElementById('status').textContent")
    if status != "connected as alice":
        raise Failure(f"alice's status says {status!r}, not 'connected as alice'")
    await alice.run("members('')")
    await alice.wait_line("error bad_request: a room name is 1 to 64 bytes (msg 11)")


async def bob_replaced(bob, bob2):
    """A newer login of bob on a socket: bob's page shows the kick, then reconnects."""
    bob2.send(1, "bob")
    await bob2.wait_line("1 welcome bob")
    await bob.wait_line("kicked replaced: replaced by a newer login of bob")
    await wait_until("bob's page to show it is disconnected", lambda: bob.has_status("closed"))
    step("bob's page says it is disconnected")
    await bob.devtools.evaluate("document.getElementById('reconnect').click()")
    await wait_until("bob's page to connect again", lambda: bob.has_status("open"))
    step("bob's Reconnect button connects again")


async def conversation(args, work, state):
    gate_port, web_port = await start_cluster(args, work, state)
    alice, bob = await open_pages(args, work, state, web_port)
    carol = await TcpPlayer.connect("carol", gate_port)
    state["tcp"] = [carol]
    await chat(alice, bob, carol)
    await alice_alone(alice)
    await check_screenshot(alice, args.screenshot)
    bob2 = await TcpPlayer.connect("bob#2", gate_port)
    state["tcp"].append(bob2)
    await bob_replaced(bob, bob2)
    if any(line.startswith("9 lobby") for line in await alice.lines()):
        raise Failure("alice, not in lobby, got a line of lobby")
    for page in (alice, bob):
        if page.devtools.exceptions:
            raise Failure(f"{page.name}'s page threw: {page.devtools.problems}")
    step("alice got no line of lobby; neither page threw")


async def report(state):
    """What every player had received, for a failure's report."""
    for page in state.get("pages", []):
        try:
            lines = await asyncio.wait_for(page.lines(), 3)
        except Exception as error:  # noqa: BLE001 - a report must not fail
            lines = [f"(cannot read the log: {error})"]
        print(f"--- {page.name}'s page log:", *lines, sep="\n    ")
        if page.devtools.problems:
            print(f"--- {page.name}'s page problems:", *page.devtools.problems, sep="\n    ")
    for player in state.get("tcp", []):
        print(f"--- {player.name} (tcp) received:", *player.frames, sep="\n    ")


async def run(args, work, state):
    """The conversation within its bound; a SIGTERM or SIGINT (ctest, a user) stops it like a
    failure, so that the processes are still stopped. True when every step passed."""
    task = asyncio.current_task()
    stopped_by = []

    def on_signal(sig):
        stopped_by.append(sig.name)
        task.cancel()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, on_signal, sig)
    passed = False
    try:
        await asyncio.wait_for(conversation(args, work, state), TOTAL_SECONDS)
        passed = True
    except asyncio.TimeoutError:
        print(f"FAILED: the conversation took over {TOTAL_SECONDS} s")
    except Failure as failure:
        print(f"FAILED: {failure}")
    except asyncio.CancelledError:
        if not stopped_by:
            raise
        print(f"FAILED: stopped by {stopped_by[0]}")
    if not passed:
        await report(state)
    await close_connections(state)
    return passed


async def close_connections(state):
    for player in state.get("tcp", []):
        player.close()
    for devtools in [p.devtools for p in state.get("pages", [])] + [state.get("root")]:
        if devtools is not None:
            try:
                await asyncio.wait_for(devtools.close(), 3)
            except Exception:  # noqa: BLE001 - closing what may be gone already
                pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", help="the dinx-demo executable")
    parser.add_argument("--screenshot", type=Path,
                        help="where alice's page goes as a PNG (default: in the temp dir)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        print(f"FAILED: no {args.chromium} (apt-get install chromium)")
        return 1

    work = Path(tempfile.mkdtemp(prefix="dinx-browser-"))
    keep_work = args.screenshot is None
    args.screenshot = (args.screenshot or work / "browser-chat.png").resolve()
    state = {}
    started = time.monotonic()
    passed = False
    print(f"browser chat test in {work}", flush=True)
    try:
        passed = asyncio.run(run(args, work, state))
    finally:
        browser = state.get("browser")
        stop(browser.process if browser else None)
        demo_code = stop(state.get("demo"))
        if not passed:
            print(f"--- dinx-demo's log (last lines):\n{tail(work / 'dinx-demo.log')}")
            if browser:
                print(f"--- chromium's log (last lines):\n{tail(browser.log)}")
        shutil.rmtree(work / "chromium-profile", ignore_errors=True)
        if passed and not keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work} (the conf, every process's log, the screenshot)")
    if not passed:
        return 1
    seconds = time.monotonic() - started
    print(f"passed in {seconds:.1f} s (dinx-demo exited {demo_code} after SIGTERM)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
