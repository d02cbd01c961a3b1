// orderchat over NATS WebSocket: the same subjects and requests every other client uses.
// Requests go to oc.<t>.in.<user>.<op>; the inbox is pulled from this device's durable
// consumer; typing arrives on oc.<t>.live.<user>. NATS permissions tied to the user's nkey
// decide what this connection may touch, exactly as for the Python client.
import { wsconnect, nkeyAuthenticator, nuid } from "@nats-io/nats-core";
import { Signer } from "./signing.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const PULL_BATCH = 64;
const PULL_EXPIRES_MS = 20000;

export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class Session {
  constructor(nc, { tenant, user, device }) {
    this.nc = nc;
    this.tenant = tenant;
    this.user = user;
    this.device = device;
    this.replyPrefix = `_INBOX_${tenant}_${user}`;
    this.closed = false;
    this._timers = [];
  }

  // Connect as `user`: the browser signs the server's nonce with the seed (nkey) itself;
  // the seed never leaves this page.
  static async open({ url, tenant, user, device, seed }) {
    const options = {
      servers: url,
      name: `orderchat-web-${user}-${device}`,
      inboxPrefix: `_INBOX_${tenant}_${user}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 10000,
    };
    if (seed) options.authenticator = nkeyAuthenticator(enc.encode(seed.trim()));
    const nc = await wsconnect(options);
    const session = new Session(nc, { tenant, user, device });
    // The key this device connects with also signs its party's order commitments.
    session.signer = seed ? new Signer(seed) : null;
    return session;
  }

  subject(op) {
    return `oc.${this.tenant}.in.${this.user}.${op}`;
  }

  async request(op, payload, timeout = 10000) {
    const msg = await this.nc.request(this.subject(op), enc.encode(JSON.stringify(payload)), { timeout });
    const reply = JSON.parse(dec.decode(msg.data));
    if (reply.ok === false) throw new ApiError(reply.code, reply.message);
    return reply;
  }

  // -- inbox: pull from the device consumer, ack after handling, delivered receipts per batch --
  // `session` is the reply of `session.open` (stream and consumer of this device).
  startInbox(session, onItem) {
    const next = `$JS.API.CONSUMER.MSG.NEXT.${session.stream}.${session.consumer}`;
    const deliverTo = `${this.replyPrefix}.pull.${nuid.next()}`;
    const sub = this.nc.subscribe(deliverTo);
    let remaining = 0;
    let lastActivity = Date.now();
    const pull = () => {
      if (this.closed) return;
      remaining = PULL_BATCH;
      lastActivity = Date.now();
      const body = { batch: PULL_BATCH, expires: PULL_EXPIRES_MS * 1e6 };
      this.nc.publish(next, enc.encode(JSON.stringify(body)), { reply: deliverTo });
    };
    // A pull can be lost with a dropped connection: re-pull when it should have ended.
    this._timers.push(setInterval(() => {
      if (Date.now() - lastActivity > PULL_EXPIRES_MS + 5000) pull();
    }, 5000));
    (async () => {
      for await (const s of this.nc.status()) if (s.type === "reconnect") pull();
    })().catch(() => {});
    const marks = new Map();
    let flushTimer = null;
    const flushDelivered = () => {
      flushTimer = null;
      for (const [conv, upTo] of marks) {
        this.request("rcpt.delivered", { conv, up_to: upTo, device: this.device }).catch(() => {});
      }
      marks.clear();
    };
    pull();
    (async () => {
      for await (const m of sub) {
        lastActivity = Date.now();
        if (m.headers && m.data.length === 0 && m.headers.code) {
          // 408 request expired, 409 limits reached: ask again; 100 is a heartbeat.
          if (m.headers.code === 408 || m.headers.code === 409) pull();
          // 503 no responders: the device's consumer is gone (memory-stored, a nats-server
          // restart forgets it); opening the session again has delivery re-create it.
          if (m.headers.code === 503) {
            this.request("session.open", { device: this.device })
              .catch(() => {})
              .finally(() => setTimeout(pull, 500));
          }
          continue;
        }
        const family = m.subject.split(".")[2];
        let item;
        try {
          const data = JSON.parse(dec.decode(m.data));
          item = family === "conv" ? { message: data } : { event: data };
        } catch {
          m.respond();
          continue;
        }
        try {
          await onItem(item);
        } finally {
          m.respond(); // ack: handled (or not showable); never redelivered to this page
        }
        if (item.message && item.message.sender !== this.user) {
          const { conv, seq } = item.message;
          if (seq > (marks.get(conv) || 0)) marks.set(conv, seq);
          if (!flushTimer) flushTimer = setTimeout(flushDelivered, 50);
        }
        if (--remaining <= 0) pull();
      }
    })().catch((err) => console.error("inbox stopped", err));
  }

  // -- live events: typing --
  startLive(onEvent) {
    const sub = this.nc.subscribe(`oc.${this.tenant}.live.${this.user}`);
    (async () => {
      for await (const m of sub) {
        try { onEvent(JSON.parse(dec.decode(m.data))); } catch { /* a kind this page does not know */ }
      }
    })();
  }

  // -- presence: beat while the page is open --
  startPresence(ttl = 30) {
    const beat = () => this.request("presence.beat", { device: this.device, state: "online", ttl }).catch(() => {});
    beat();
    this._timers.push(setInterval(beat, (ttl * 1000) / 3));
  }

  async close() {
    this.closed = true;
    this._timers.forEach(clearInterval);
    try {
      await this.request("presence.beat", { device: this.device, state: "offline" }, 2000);
    } catch { /* the TTL ends it instead */ }
    await this.nc.close();
  }
}

export function newId() {
  return nuid.next().replace(/[^A-Za-z0-9_-]/g, "");
}
