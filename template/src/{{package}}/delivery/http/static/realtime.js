// A browser client for the service's WebSocket API (protocol: docs/websocket.md).
// It keeps one logical session alive across connections: exponential backoff with full
// jitter (0.5 s doubling to 30 s), signing in again, rejoining rooms, and re-sending
// unacknowledged requests with their original ids (the service replays its first reply).

const SUBPROTOCOL = "realtime.v1";
const FINAL_CLOSE_CODES = new Set([1000, 1003, 1008, 1009]);

export class RequestError extends Error {
  constructor(code, message, details) {
    super(`${code}: ${message}`);
    this.code = code;
    this.details = details;
  }
}

// Milliseconds to wait before reconnection attempt `attempt` (0 after a connection that worked):
// drawn uniformly from [0, min(cap, base * 2^attempt)], "full jitter", so that clients dropped
// together come back spread out. `random` draws from [0, 1); tests pass a fixed one.
export function backoffDelay(attempt, { base = 500, cap = 30000, random = Math.random } = {}) {
  return random() * Math.min(cap, base * 2 ** attempt);
}

export class RealtimeClient extends EventTarget {
  constructor(url, { token = null, heartbeatWindow = 35000, backoffBase = 500, backoffMax = 30000, random = Math.random } = {}) {
    super();
    this.url = url;
    this.token = token;
    this.heartbeatWindow = heartbeatWindow;
    this.backoff = { base: backoffBase, cap: backoffMax, random };
    this.rooms = new Set();
    this.pending = new Map(); // id -> {frame, resolve, reject}
    this.socket = null;
    this.attempt = 0;
    this.closed = false;
    this.silenceTimer = null;
    this.connects = 0;
  }

  connect() {
    const protocols = [SUBPROTOCOL];
    if (this.token) protocols.push(`bearer.${this.token}`);
    const socket = new WebSocket(this.url, protocols);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.connects += 1;
      for (const room of this.rooms) this.send({ type: "room.join", id: newId(), data: { room } });
      for (const { frame } of this.pending.values()) this.send(frame);
      this.watchSilence();
      this.status("connected");
    };
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = (closing) => {
      clearTimeout(this.silenceTimer);
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closed || FINAL_CLOSE_CODES.has(closing.code)) {
        this.status("closed", closing.code, null, closing.reason);
        this.failPending(new RequestError("closed", `closed with ${closing.code}`));
        return;
      }
      const delay = backoffDelay(this.attempt, this.backoff);
      this.attempt += 1;
      this.status("reconnecting", closing.code, delay);
      setTimeout(() => this.closed || this.connect(), delay);
    };
  }

  request(type, data = {}, id = newId()) {
    const frame = { type, id, data };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { frame, resolve, reject });
      this.send(frame);
    });
  }

  async join(room) {
    const reply = await this.request("room.join", { room });
    this.rooms.add(room);
    return reply;
  }

  async leave(room) {
    this.rooms.delete(room);
    return this.request("room.leave", { room });
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close(1000);
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
    }
  }

  receive(frame) {
    this.watchSilence();
    const waiting = this.pending.get(frame.id);
    if (frame.type === "ping") {
      this.send({ type: "pong", id: frame.id, data: {} });
    } else if (["ack", "error", "pong"].includes(frame.type)) {
      if (!waiting) return;
      this.pending.delete(frame.id);
      if (frame.type === "error") {
        waiting.reject(new RequestError(frame.data.code, frame.data.message, frame.data.details));
      } else {
        waiting.resolve(frame.data);
      }
    } else {
      this.dispatchEvent(new CustomEvent("event", { detail: frame }));
    }
  }

  // Silence past the heartbeat window means a dead connection: drop it and reconnect.
  watchSilence() {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => this.socket && this.socket.close(4000), this.heartbeatWindow);
  }

  status(state, code = null, delay = null, reason = "") {
    this.dispatchEvent(new CustomEvent("status", { detail: { state, code, delay, reason } }));
  }

  failPending(error) {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}
