// dinx chat: a browser client of a dinx gate's WebSocket listener.
//
// Each binary WebSocket message carries zinx TLV frames, [msgID u32][dataLen u32][UTF-8 data]
// big-endian, the same frames a TCP client sends. A message may hold several frames; a frame
// split across messages is put back together too, since nothing in WebSocket forbids it.
//
// window.dinxChat is a handle for tests and the console: dinxChat.log holds every frame
// received as one line, and login(name), say(text), join(room), sayRoom(text), ... send.
"use strict";

(() => {
  const msg = { login: 1, logout: 2, broadcast: 4, join: 7, leave: 8, say: 9, members: 11 };
  const errorMsgId = 4294967295;  // [cluster] error_msg_id
  const kickMsgId = 4294967294;   // [cluster] kick_msg_id
  const heartbeatMsgId = 99999;   // [cluster] heartbeat_msg_id: the gate echoes it
  // The gate closes a client that sent no frame within client_first_frame_timeout_ms (10 s) of
  // connecting, or nothing for client_idle_timeout_ms (60 s): a heartbeat at once, then often.
  const heartbeatMs = 20000;
  const headerBytes = 8;
  // A dataLen this large means the stream is not TLV (the gate's own limit is far lower).
  const maxFrameBytes = 16 << 20;
  const maxShownLines = 1000;

  // Names of the demo's replies, shown as the tag of a line (README's demo protocol table).
  const replyNames = {
    1: "login", 2: "logout", 3: "send", 5: "relay", 6: "echo", 7: "join", 8: "leave",
    10: "whisper", 11: "members", 12: "set", 13: "get", 14: "sign in", 15: "score",
    16: "leaderboard", 17: "standing",
  };

  const encoder = new TextEncoder();
  const decoder = new TextDecoder();  // replaces invalid UTF-8 rather than throwing

  /** One TLV frame holding `text` as UTF-8. */
  function encodeFrame(msgId, text = "") {
    const data = encoder.encode(text);
    const frame = new Uint8Array(headerBytes + data.length);
    const view = new DataView(frame.buffer);
    view.setUint32(0, msgId);  // DataView is big-endian unless told otherwise
    view.setUint32(4, data.length);
    frame.set(data, headerBytes);
    return frame;
  }

  /** Takes chunks of the byte stream; returns the frames they complete, keeps the rest. */
  class FrameReader {
    constructor() {
      this.pending = new Uint8Array(0);
    }

    push(chunk) {
      let bytes = chunk;
      if (this.pending.length > 0) {
        bytes = new Uint8Array(this.pending.length + chunk.length);
        bytes.set(this.pending);
        bytes.set(chunk, this.pending.length);
      }
      const frames = [];
      let at = 0;
      while (bytes.length - at >= headerBytes) {
        const view = new DataView(bytes.buffer, bytes.byteOffset + at, headerBytes);
        const id = view.getUint32(0);
        const length = view.getUint32(4);
        if (length > maxFrameBytes) throw new Error(`a frame claims ${length} bytes`);
        if (bytes.length - at - headerBytes < length) break;
        const data = bytes.subarray(at + headerBytes, at + headerBytes + length);
        frames.push({ id, text: decoder.decode(data) });
        at += headerBytes + length;
      }
      this.pending = bytes.slice(at);
      return frames;
    }
  }

  /** An error or kick payload: JSON {msg_id, code, message}; anything else is shown as is. */
  function parseProblem(text) {
    try {
      const problem = JSON.parse(text);
      if (problem && typeof problem.code === "string") return problem;
    } catch (_) {
      // not JSON: fall through
    }
    return { msg_id: 0, code: "unknown", message: text };
  }

  /** How a received frame is logged: the line for dinxChat.log, and a tag, kind and text. */
  function describe({ id, text }) {
    if (id === errorMsgId || id === kickMsgId) {
      const p = parseProblem(text);
      const kicked = id === kickMsgId;
      const about = p.msg_id ? ` (msg ${p.msg_id})` : "";
      const line = `${kicked ? "kicked" : "error"} ${p.code}: ${p.message}${about}`;
      return { line, kind: kicked ? "kick" : "error", tag: kicked ? "kicked" : "error",
               text: `${p.code}: ${p.message}${about}` };
    }
    const line = `${id} ${text}`;
    if (id === msg.broadcast) return { line, kind: "broadcast", tag: "everyone", text };
    if (id === msg.say) {
      const space = text.indexOf(" ");
      return { line, kind: "room", tag: `#${text.slice(0, space)}`, text: text.slice(space + 1) };
    }
    return { line, kind: "reply", tag: replyNames[id] ?? `msg ${id}`, text };
  }

  // ---- the page ----

  const $ = (id) => document.getElementById(id);
  // Served by the gate itself, the socket is on the same host; ?ws=ws://host:port/ws overrides.
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = new URLSearchParams(location.search).get("ws") ||
      (location.host ? `${scheme}://${location.host}/ws` : "");

  let socket = null;
  let heartbeat = 0;
  let status = "closed";
  let uid = "";  // the name the gate welcomed, until logout, a kick or a disconnect
  let room = "";

  function setStatus(state, note = "") {
    status = state;
    const text = { connecting: "connecting…", open: "connected", closed: "disconnected" }[state];
    $("status").dataset.state = state;
    $("status").textContent = note || (state === "open" && uid ? `${text} as ${uid}` : text);
    $("reconnect").hidden = state !== "closed";
  }

  function setUid(name) {
    uid = name;
    if (status === "open") setStatus(status);
  }

  function show(kind, tag, text) {
    const log = $("log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const item = document.createElement("li");
    item.className = `entry ${kind}`;
    const time = document.createElement("time");
    time.textContent = new Date().toLocaleTimeString([], { hour12: false });
    const label = document.createElement("span");
    label.className = "tag";
    label.textContent = tag;
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;  // never innerHTML: payloads come from other players
    item.append(time, label, body);
    log.append(item);
    while (log.children.length > maxShownLines) log.firstElementChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function receive(frame) {
    if (frame.id === heartbeatMsgId) return;
    if (frame.id === msg.login && frame.text.startsWith("welcome ")) setUid(frame.text.slice(8));
    if (frame.id === msg.logout || frame.id === kickMsgId) setUid("");
    const entry = describe(frame);
    api.log.push(entry.line);
    if (api.log.length > maxShownLines) api.log.shift();
    show(entry.kind, entry.tag, entry.text);
  }

  function connect() {
    if (!url) {
      setStatus("closed", "no gate: open this page from its gate, or add ?ws=ws://host:port/ws");
      return;
    }
    if (socket && socket.readyState <= WebSocket.OPEN) return;
    clearInterval(heartbeat);
    const ws = new WebSocket(url);
    const reader = new FrameReader();
    socket = ws;
    ws.binaryType = "arraybuffer";
    setStatus("connecting");
    // Events of a socket replaced by a reconnect (still closing) change nothing.
    ws.onopen = () => {
      if (ws !== socket) return;
      setStatus("open");
      show("system", "status", `connected to ${url}`);
      send(heartbeatMsgId);  // a player may take a while to type a name
      heartbeat = setInterval(() => send(heartbeatMsgId), heartbeatMs);
    };
    ws.onmessage = (event) => {
      if (ws !== socket) return;
      if (typeof event.data === "string") {
        show("system", "status", "ignored a text message: the gate speaks binary frames");
        return;
      }
      let frames;
      try {
        frames = reader.push(new Uint8Array(event.data));
      } catch (problem) {
        show("error", "error", `not a TLV stream (${problem.message}); closing`);
        ws.close();
        return;
      }
      frames.forEach(receive);
    };
    ws.onclose = (event) => {
      if (ws !== socket) return;
      clearInterval(heartbeat);
      uid = "";
      setRoom("");  // the gate forgot the session's rooms with it
      setStatus("closed");
      const why = event.reason ? `: ${event.reason}` : "";
      show("system", "status", `disconnected (code ${event.code}${why})`);
    };
  }

  /** Sends one frame; false (and a line saying so) when the socket is not open. */
  function send(msgId, text = "") {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      show("system", "status", "not connected: press Reconnect");
      return false;
    }
    socket.send(encodeFrame(msgId, text));
    return true;
  }

  function setRoom(name) {
    room = name;
    $("room-name").textContent = room ? `#${room}` : "the room";
  }

  // Calls from dinxChat show in the form, as if typed there.
  function fill(inputId, value) {
    $(inputId).value = value;
    return value;
  }

  function needRoom(name) {
    if (name) return true;
    show("system", "status", "join a room first");
    return false;
  }

  const api = {
    log: [],  // every frame received but heartbeats: "<msgID> <payload>", "error <code>: ..."
    get status() { return status; },  // "connecting", "open" or "closed"
    // uid: whom the gate welcomed (empty when logged out); room: the room last joined
    get uid() { return uid; },
    get room() { return room; },
    login: (name) => send(msg.login, fill("name", name.trim())),
    logout: () => send(msg.logout),
    say: (text) => send(msg.broadcast, text),
    join: (name) => {
      setRoom(fill("room", name.trim()));
      return send(msg.join, room);
    },
    leave: (name = room) => {
      if (!needRoom(name)) return false;
      if (name === room) setRoom("");
      return send(msg.leave, name);
    },
    sayRoom: (text, name = room) => needRoom(name) && send(msg.say, `${name} ${text}`),
    members: (name = room) => send(msg.members, name),
    send,
    connect,
    encodeFrame,
    FrameReader,
  };
  window.dinxChat = api;

  // A form's submit runs `action` on its text input, which empties when the frame was sent.
  function onSubmit(formId, inputId, action, { keep = false } = {}) {
    $(formId).addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $(inputId);
      if (action(input.value) && !keep) input.value = "";
    });
  }

  onSubmit("login-form", "name", api.login, { keep: true });
  onSubmit("broadcast-form", "broadcast-text", api.say);
  onSubmit("room-form", "room", api.join, { keep: true });
  onSubmit("say-form", "say-text", (text) => api.sayRoom(text));
  $("leave").addEventListener("click", () => api.leave($("room").value.trim() || room));
  $("members").addEventListener("click", () => api.members($("room").value.trim() || room));
  $("reconnect").addEventListener("click", connect);
  connect();
})();
