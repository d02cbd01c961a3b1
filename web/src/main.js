// orderchat in the browser: sign in, conversations, chat with live receipts and typing,
// and order cards with one-tap answers. Phone-sized first; two panes on a desktop.
import { Session, newId } from "./api.js";
import { h, clear, patch, patchChildren } from "./dom.js";
import { t, getLang, setLang, formatTime } from "./i18n.js";
import { renderCard, erpName } from "./card.js";

const STORED = "orderchat.session";
const TYPING_SEND_EVERY = 2500;

class App {
  constructor(root, config) {
    this.root = root;
    this.config = config;
    this.session = null;
    this.convs = new Map(); // conv id -> ConvSummary (+ live updates)
    this.messages = new Map(); // conv id -> Map(seq -> ChatMessage)
    this.hasMore = new Map();
    this.cursors = new Map(); // conv id -> Map(user -> {delivered, read})
    this.orders = new Map(); // order id -> Order (order.show)
    this.orderEvents = new Map();
    this.latestCard = new Map(); // order id -> {conv, seq} of its newest card
    this.presence = new Map();
    this.erpStatus = new Map(); // order id -> latest erp_* order event
    this.typing = new Map(); // conv -> Map(user -> until)
    this.open = null;
    this.lastTypingSent = 0;
    setLang(getLang());
  }

  // -- sign-in -----------------------------------------------------------------------------
  async start() {
    const saved = sessionStorage.getItem(STORED);
    if (saved) {
      try {
        return await this.signIn(JSON.parse(saved));
      } catch {
        sessionStorage.removeItem(STORED);
      }
    }
    this.renderSignIn();
  }

  async signIn({ user, device, seed }) {
    const session = await Session.open({ url: this.config.websocket_url, tenant: this.config.tenant, user, device, seed });
    // A key is admitted by NATS as whoever it belongs to: the first request, on `user`'s own
    // subject, proves that it is `user`'s key (NATS refuses it otherwise).
    // Opening the session first (it creates this device's inbox consumer, delivering what
    // is stored from then on) and listing conversations second leaves no gap between them.
    let opened;
    try {
      opened = await session.request("session.open", { device });
    } catch (err) {
      await session.nc.close().catch(() => {});
      throw new Error(/permission/i.test(err.message) ? t("notYourKey", { user }) : err.message);
    }
    this.session = session;
    sessionStorage.setItem(STORED, JSON.stringify({ user, device, seed }));
    this.renderShell();
    await this.loadConversations();
    this.session.startInbox(opened, (item) => this.onInbox(item));
    this.session.startLive((event) => this.onLive(event));
    this.session.startPresence();
    this.pollPresence();
    setInterval(() => this.pollPresence(), 10000);
    setInterval(() => this.renderTyping(), 1000);
    document.addEventListener("visibilitychange", () => this.markRead());
  }

  async signOut() {
    sessionStorage.removeItem(STORED);
    if (this.session) await this.session.close();
    location.reload();
  }

  renderSignIn(error) {
    const form = { user: "", device: "web", seed: "" };
    const fileInput = h("input", {
      type: "file", accept: ".nk,.creds,text/plain", testid: "seed-file", class: "hidden",
      onchange: async (e) => { const file = e.target.files[0]; if (file) { seedBox.value = await file.text(); form.seed = seedBox.value; } },
    });
    const seedBox = h("textarea", { testid: "seed", rows: 3, placeholder: "SUA…", oninput: (e) => { form.seed = e.target.value; } });
    const status = h("div", { class: "error", testid: "signin-error" }, error || "");
    const submit = async (creds) => {
      status.textContent = "";
      try {
        await this.signIn(creds);
      } catch (err) {
        status.textContent = `${t("signInFailed")}: ${err.message}`;
      }
    };
    const demo = h("div", { class: "demo" });
    const page = h("div", { class: "signin" },
      this.topBar(),
      h("form", {
        class: "panel", testid: "signin-form",
        onsubmit: (e) => { e.preventDefault(); submit({ user: form.user.trim(), device: form.device.trim() || "web", seed: form.seed }); },
      },
        h("label", { class: "field" }, h("span", {}, t("user")), h("input", { testid: "user", autocomplete: "username", oninput: (e) => { form.user = e.target.value; } })),
        h("label", { class: "field" }, h("span", {}, t("device")), h("input", { testid: "device", value: "web", oninput: (e) => { form.device = e.target.value; } })),
        this.config.auth ? h("label", { class: "field" }, h("span", {}, t("key")), seedBox) : null,
        this.config.auth ? h("div", { class: "help" }, t("keyHelp"), " ", h("button", { type: "button", class: "link", onclick: () => fileInput.click() }, t("chooseFile")), fileInput) : null,
        h("button", { class: "primary", type: "submit", testid: "signin" }, t("signIn")),
        status,
      ),
      demo,
    );
    clear(this.root, page);
    if (this.config.demo) {
      fetch("/demo.json").then((r) => (r.ok ? r.json() : { parties: [] })).then(({ parties }) => {
        clear(demo, h("h3", {}, t("demoSignIn")), parties.map((p) =>
          h("button", { type: "button", testid: `demo-${p.user}`, onclick: () => submit({ user: p.user, device: p.device, seed: p.seed }) },
            `${p.display_name} (${p.user})`)));
      });
    }
  }

  topBar(...extra) {
    return h("header", { class: "top" },
      h("span", { class: "brand" }, t("appName")),
      h("span", { class: "spacer" }),
      ...extra,
      h("button", { class: "link", testid: "lang", type: "button", onclick: () => { setLang(getLang() === "zh" ? "en" : "zh"); this.rerender(); } }, t("language")),
    );
  }

  rerender() {
    if (!this.session) return this.renderSignIn();
    this.renderShell();
    this.renderList();
    if (this.open) this.renderChat();
  }

  // -- layout ------------------------------------------------------------------------------
  renderShell() {
    this.listEl = h("ul", { class: "convs", testid: "conversations" });
    this.chatEl = h("section", { class: "chat", testid: "chat" });
    this.toastEl = h("div", { class: "toast", testid: "toast" });
    clear(this.root,
      h("div", { class: `shell ${this.open ? "chat-open" : ""}` },
        h("aside", { class: "sidebar" },
          this.topBar(h("span", { class: "me", testid: "me" }, this.session.user),
            h("button", { class: "link", type: "button", testid: "signout", onclick: () => this.signOut() }, t("signOut"))),
          this.newChatForm(),
          this.listEl),
        this.chatEl),
      this.toastEl);
  }

  // Start a one-to-one chat with a party by id (the direct conversation is the same
  // whoever starts it, so this also finds an existing one).
  newChatForm() {
    const input = h("input", { testid: "new-chat-user", placeholder: t("newChat"), autocapitalize: "none" });
    return h("form", {
      class: "new-chat",
      onsubmit: async (e) => {
        e.preventDefault();
        const user = input.value.trim().toLowerCase();
        if (!user) return;
        try {
          const reply = await this.session.request("conv.create", { kind: "direct", members: [{ user }] }, 15000);
          const conv = reply.conversation;
          if (!this.convs.has(conv.id)) this.convs.set(conv.id, { conversation: conv, last_seq: 0, unread: 0 });
          input.value = "";
          await this.openConversation(conv.id);
        } catch (err) {
          this.toast(t("error", { msg: err.message }));
        }
      },
    }, input, h("button", { type: "submit", testid: "new-chat-start" }, t("start")));
  }

  toast(text) {
    this.toastEl.textContent = text;
    this.toastEl.classList.add("show");
    setTimeout(() => this.toastEl.classList.remove("show"), 5000);
  }

  // -- conversations -----------------------------------------------------------------------
  async loadConversations() {
    this.showConversations(await this.session.request("conv.list", { limit: 200 }));
  }

  showConversations(reply) {
    for (const summary of reply.conversations) this.convs.set(summary.conversation.id, summary);
    this.renderList();
  }

  peersOf(conv) {
    return conv.members.map((m) => m.user).filter((u) => u !== this.session.user);
  }

  titleOf(conv) {
    return conv.title || this.peersOf(conv).join(", ") || conv.id;
  }

  preview(message) {
    if (!message) return "";
    const body = message.body || {};
    if (body.kind === "text") return body.text;
    if (body.kind === "order_card") return t("orderCard", { id: body.card.erp_ref ? erpName(body.card.erp_ref) : body.card.order_id });
    if (body.kind === "notice") return `${t("notice")} ${this.noticeText(body)}`;
    return body.name || body.kind || "";
  }

  renderList() {
    const items = [...this.convs.values()].sort((a, b) => String(b.last_message?.ts || "").localeCompare(String(a.last_message?.ts || "")));
    if (!items.length) return clear(this.listEl, h("li", { class: "muted" }, t("noConversations")));
    clear(this.listEl, items.map((s) => {
      const peers = this.peersOf(s.conversation);
      const online = peers.some((p) => this.presence.get(p));
      return h("li", {
        class: `conv ${this.open === s.conversation.id ? "active" : ""}`, testid: "conversation", "data-conv": s.conversation.id,
        onclick: () => this.openConversation(s.conversation.id),
      },
        h("span", { class: `dot ${online ? "on" : ""}`, title: online ? t("online") : t("offline"), testid: online ? "presence-online" : "presence-offline" }),
        h("div", { class: "conv-main" },
          h("div", { class: "conv-title" }, this.titleOf(s.conversation)),
          h("div", { class: "conv-last", testid: "last-message" }, this.preview(s.last_message))),
        h("div", { class: "conv-side" },
          s.last_message ? h("span", { class: "when" }, formatTime(s.last_message.ts)) : null,
          s.unread ? h("span", { class: "badge", testid: "unread" }, String(s.unread)) : null));
    }));
  }

  async pollPresence() {
    const users = new Set();
    for (const s of this.convs.values()) this.peersOf(s.conversation).forEach((u) => users.add(u));
    if (!users.size) return;
    try {
      const reply = await this.session.request("presence.get", { users: [...users].slice(0, 1000) });
      for (const p of reply.users) this.presence.set(p.user, p.online);
      this.renderList();
      this.renderHeader();
    } catch { /* next poll */ }
  }

  // -- a conversation ----------------------------------------------------------------------
  async openConversation(conv) {
    this.open = conv;
    this.root.querySelector(".shell")?.classList.add("chat-open");
    if (!this.messages.has(conv)) {
      const page = await this.session.request("chat.history", { conv, limit: 40 });
      this.messages.set(conv, new Map(page.messages.map((m) => [m.seq, m])));
      this.hasMore.set(conv, page.has_more);
      page.messages.filter((m) => m.body.kind === "order_card").forEach((m) => this.noteCard(m));
    }
    await this.loadCursors(conv);
    this.pollPresence();
    this.renderList();
    this.renderChat();
    this.markRead();
  }

  closeConversation() {
    this.open = null;
    this.root.querySelector(".shell")?.classList.remove("chat-open");
    this.renderList();
  }

  async loadCursors(conv) {
    try {
      const status = await this.session.request("rcpt.status", { conv, limit: 1 });
      this.cursors.set(conv, new Map(status.cursors.map((c) => [c.user, { delivered: c.delivered_up_to, read: c.read_up_to }])));
    } catch { /* ticks stay at "sent" until receipts arrive */ }
  }

  async loadOlder() {
    const conv = this.open;
    const known = this.messages.get(conv);
    const first = Math.min(...known.keys());
    this.loadingOlder = true;
    let page;
    try {
      page = await this.session.request("chat.history", { conv, before: first, limit: 40 });
    } finally {
      this.loadingOlder = false;
    }
    page.messages.forEach((m) => known.set(m.seq, m));
    this.hasMore.set(conv, page.has_more);
    const scroller = this.chatEl.querySelector(".messages");
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    this.renderMessages();
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  }

  renderChat() {
    const summary = this.convs.get(this.open);
    if (!summary) return;
    const input = h("input", {
      class: "composer-input", testid: "composer", placeholder: t("messagePlaceholder"), enterkeyhint: "send",
      oninput: () => this.typed(),
    });
    const send = async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      try {
        const accepted = await this.session.request("chat.send", { client_msg_id: newId(), conv: this.open, body: { kind: "text", text } });
        this.addMessage({ type: "message", conv: accepted.conv, seq: accepted.seq, sender: this.session.user, client_msg_id: "", ts: accepted.ts, body: { kind: "text", text } });
      } catch (err) {
        input.value = text;
        this.toast(t("error", { msg: err.message }));
      }
    };
    this.headerEl = h("div", { class: "chat-head" });
    this.messagesEl = h("div", {
      class: "messages", testid: "messages",
      // Scrolling to the top loads the page before it.
      onscroll: () => { if (this.messagesEl.scrollTop < 40 && this.hasMore.get(this.open) && !this.loadingOlder) this.loadOlder(); },
    });
    clear(this.chatEl,
      this.headerEl,
      this.messagesEl,
      h("form", { class: "composer", onsubmit: send }, input, h("button", { class: "primary", type: "submit", testid: "send" }, t("send"))));
    this.renderHeader();
    this.renderMessages();
    this.messagesEl.scrollTop = this.messagesEl.scrollHeight;
  }

  renderHeader() {
    if (!this.open || !this.headerEl) return;
    const summary = this.convs.get(this.open);
    const peers = this.peersOf(summary.conversation);
    const online = peers.some((p) => this.presence.get(p));
    clear(this.headerEl,
      h("button", { class: "link back", type: "button", testid: "back", onclick: () => this.closeConversation() }, "‹ " + t("back")),
      h("div", {},
        h("div", { class: "chat-title", testid: "chat-title" }, this.titleOf(summary.conversation)),
        h("div", { class: "chat-status", testid: "chat-status" }, this.typingText() || (online ? t("online") : t("offline")))));
  }

  renderMessages() {
    const known = this.messages.get(this.open) || new Map();
    const list = [...known.values()].sort((a, b) => a.seq - b.seq);
    // Patched, not replaced: whatever the user is typing into a card stays under their fingers.
    patchChildren(this.messagesEl,
      this.hasMore.get(this.open) ? h("button", { class: "link older", type: "button", testid: "load-older", onclick: () => this.loadOlder() }, t("loadOlder")) : null,
      list.map((m) => this.renderMessage(m)));
  }

  renderMessage(m) {
    const mine = m.sender === this.session.user;
    const body = m.body;
    if (body.kind === "order_card") {
      const latest = this.latestCard.get(body.card.order_id)?.seq === m.seq;
      return h("div", { class: "row card-row", "data-seq": m.seq, "data-key": m.seq }, renderCard(this, body.card, { latest }));
    }
    if (body.kind === "notice") return h("div", { class: "row notice", testid: "notice", "data-seq": m.seq, "data-key": m.seq }, this.noticeText(body));
    const content = body.kind === "text" ? body.text : `📎 ${body.name}`;
    return h("div", { class: `row ${mine ? "mine" : "theirs"}`, "data-seq": m.seq, "data-key": m.seq },
      h("div", { class: "bubble", testid: mine ? "my-message" : "their-message" },
        mine ? null : h("div", { class: "sender" }, m.sender),
        h("div", { class: "text" }, content),
        h("div", { class: "meta" }, formatTime(m.ts), mine ? this.ticks(m) : null)));
  }

  // Order notices are rendered from their code and data, in the reader's language; the
  // server's (English) text is the fallback for notices this page does not know.
  noticeText(body) {
    const event = body.data?.event;
    if (!body.order_id || !event || !(body.code || "").startsWith("order.")) return body.text;
    const order = this.orders.get(body.order_id);
    const name = order?.erp_ref ? erpName(order.erp_ref) : body.order_id;
    return `${t("order")} ${name}: ${t(`event.${event}`)} · ${t("revision", { n: body.data.revision })}`;
  }

  ticks(m) {
    const others = this.peersOf(this.convs.get(m.conv).conversation);
    const cursors = this.cursors.get(m.conv) || new Map();
    const all = (kind) => others.length > 0 && others.every((u) => (cursors.get(u)?.[kind] || 0) >= m.seq);
    const status = all("read") ? "read" : all("delivered") ? "delivered" : "sent";
    return h("span", { class: `ticks ${status}`, testid: "ticks", "data-status": status, title: t(status) }, status === "sent" ? " ✓" : " ✓✓");
  }

  // -- live updates --------------------------------------------------------------------------
  noteCard(m) {
    const id = m.body.card.order_id;
    const known = this.latestCard.get(id);
    if (!known || known.seq < m.seq) this.latestCard.set(id, { conv: m.conv, seq: m.seq });
    if (!this.orders.has(id)) this.refreshOrder(id);
  }

  addMessage(m) {
    const known = this.messages.get(m.conv);
    if (known) {
      if (known.has(m.seq) && known.get(m.seq).client_msg_id) return;
      known.set(m.seq, m);
    }
    if (m.body.kind === "order_card") this.noteCard(m);
    // A notice follows every state change the orders service makes: show the order as it is now.
    if (m.body.kind === "notice" && m.body.order_id) {
      this.orderEvents.delete(m.body.order_id);
      this.refreshOrder(m.body.order_id);
    }
    const summary = this.convs.get(m.conv);
    if (summary && (!summary.last_message || summary.last_seq <= m.seq)) {
      summary.last_message = m;
      summary.last_seq = m.seq;
    }
    if (m.conv === this.open) {
      const stick = this.messagesEl.scrollHeight - this.messagesEl.scrollTop - this.messagesEl.clientHeight < 80;
      this.renderMessages();
      if (stick || m.sender === this.session.user) this.messagesEl.scrollTop = this.messagesEl.scrollHeight;
    }
  }

  async onInbox({ message, event }) {
    if (message) {
      if (!this.convs.has(message.conv)) await this.loadConversations();
      const summary = this.convs.get(message.conv);
      // Redelivered or already counted by conv.list: not new, not unread again.
      const isNew = !!summary && message.seq > (summary.last_seq || 0);
      this.typing.get(message.conv)?.delete(message.sender);
      this.addMessage(message);
      if (message.sender !== this.session.user && isNew) {
        if (message.conv === this.open && document.visibilityState === "visible") this.markRead();
        else summary.unread = (summary.unread || 0) + 1;
      }
      this.renderList();
      return;
    }
    if (event.type === "receipt") {
      const cursors = this.cursors.get(event.conv) || new Map();
      const c = cursors.get(event.user) || { delivered: 0, read: 0 };
      c[event.status] = Math.max(c[event.status] || 0, event.up_to);
      if (event.status === "read") c.delivered = Math.max(c.delivered, event.up_to);
      cursors.set(event.user, c);
      this.cursors.set(event.conv, cursors);
      if (event.conv === this.open) this.renderMessages();
    } else if (event.type === "order_event") {
      // Order facts from elsewhere, such as the ERP connector's write-back (erp_confirmed).
      if (event.event.startsWith("erp_")) this.erpStatus.set(event.order_id, event);
      this.orderEvents.delete(event.order_id);
      await this.refreshOrder(event.order_id);
    } else if (event.type === "conv_joined") {
      this.convs.set(event.conversation.id, { conversation: event.conversation, last_seq: 0, unread: 0 });
      this.renderList();
    } else if (event.type === "conv_left") {
      this.convs.delete(event.conv);
      this.renderList();
    }
  }

  markRead() {
    if (!this.open || document.visibilityState !== "visible") return;
    const conv = this.open;
    const summary = this.convs.get(conv);
    if (summary) summary.unread = 0;
    this.renderList();
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => this.session.request("rcpt.read", { conv }).catch(() => {}), 150);
  }

  typed() {
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_SEND_EVERY) return;
    this.lastTypingSent = now;
    this.session.request("typing", { conv: this.open }).catch(() => {});
  }

  onLive(event) {
    if (event.type !== "typing" || event.user === this.session.user) return;
    const conv = this.typing.get(event.conv) || new Map();
    conv.set(event.user, Date.now() + event.expires_in * 1000);
    this.typing.set(event.conv, conv);
    this.renderHeader();
  }

  typingText() {
    const now = Date.now();
    const who = [...(this.typing.get(this.open) || new Map())].filter(([, until]) => until > now).map(([u]) => u);
    return who.length ? t("typing", { who: who.join(", ") }) : "";
  }

  renderTyping() {
    if (this.open) this.renderHeader();
  }

  // -- orders --------------------------------------------------------------------------------
  // The card can arrive a moment before the order records it as sent (the orders service
  // posts the card, then appends `sent`), and no notice follows `sent`: until the order is
  // past draft, ask again shortly (bounded), as after a failed request.
  async refreshOrder(orderId, attempt = 0) {
    let order = null;
    try {
      order = (await this.session.request("order.show", { order_id: orderId })).order;
      this.orders.set(orderId, order);
      this.rerenderOrder(orderId);
    } catch { /* retried below */ }
    if ((!order || order.state === "draft") && attempt < 20) {
      setTimeout(() => this.refreshOrder(orderId, attempt + 1), Math.min(250 * 2 ** attempt, 3000));
    }
  }

  rerenderOrder(orderId) {
    const where = this.latestCard.get(orderId);
    if (!where || where.conv !== this.open || !this.messagesEl) return;
    for (const node of this.messagesEl.querySelectorAll(`[data-testid="order-card"][data-order="${CSS.escape(orderId)}"]`)) {
      const row = node.closest(".row");
      const m = this.messages.get(this.open).get(Number(row.dataset.seq));
      patch(node, renderCard(this, m.body.card, { latest: where.seq === m.seq }));
    }
  }

  async loadOrderEvents(orderId) {
    const reply = await this.session.request("order.events", { order_id: orderId });
    this.orderEvents.set(orderId, reply.events);
    this.rerenderOrder(orderId);
  }

  async orderCommand(action, order, extra) {
    const body = { command_id: newId(), order_id: order.id, expected_version: order.version, ...extra };
    if (action !== "amend") body.revision = order.revision;
    // Signed like every other device of the user: the service refuses an unsigned
    // commitment (confirm, propose, accept changes, amend) from a party that has keys.
    if (this.session.signer) Object.assign(body, this.session.signer.fieldsFor(this.session.user, action, order, body));
    const reply = await this.session.request(`order.${action}`, body, 20000);
    this.orders.set(order.id, reply.order);
    this.orderEvents.delete(order.id);
    return reply;
  }

  // The letter is rendered by the web server from the events this user fetched with its
  // own credentials; the server verifies the hash chain first.
  async downloadLetter(order) {
    const events = await this.session.request("order.events", { order_id: order.id });
    const response = await fetch("/letter?format=pdf", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) });
    if (!response.ok) throw new Error(await response.text());
    const url = URL.createObjectURL(await response.blob());
    const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "")?.[1] || `${order.id}.pdf`;
    const a = h("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}

const config = await (await fetch("/config.json")).json();
const app = new App(document.getElementById("app"), config);
window.orderchat = app; // for the browser console
await app.start();
