// An order inside the chat: its lines, state, per-line answers and timeline, and the
// one-tap answers of whoever holds the next move. It renders the order as the orders
// service last reported it (order.show, refreshed on every order event in the inbox).
import { h } from "./dom.js";
import { t, formatNumber, formatDateTime } from "./i18n.js";
import { newId } from "./api.js";

const AWAITING_SUPPLIER = new Set(["sent", "seen"]);
const BUYER_CAN_AMEND = new Set(["sent", "seen", "confirmed", "changes_proposed"]);

// What the user is typing into a card survives re-renders caused by live updates: the
// state is kept here (a reason per form), and the page patches the card in place rather than
// replacing it (dom.js patch), so the field in use keeps its focus, caret and composition.
const drafts = new Map();

function draftOf(orderId) {
  if (!drafts.has(orderId)) drafts.set(orderId, { mode: null, answers: {}, amend: {}, reasons: {}, timeline: false });
  return drafts.get(orderId);
}

export function renderCard(app, cardView, { latest }) {
  const order = app.orders.get(cardView.order_id);
  const view = order || cardView; // the posted snapshot until order.show answers
  const root = h("div", { class: "card", testid: "order-card", "data-order": cardView.order_id, "data-state": view.state });
  const draft = draftOf(cardView.order_id);
  const answers = new Map((order?.answers || []).map((a) => [a.line_id, a]));
  root.append(
    h("div", { class: "card-head" },
      h("span", { class: "card-title" }, `${t("order")} ${view.erp_ref ? erpName(view.erp_ref) : view.id || view.order_id}`),
      h("span", { class: `state state-${view.state}`, testid: "order-state" }, t(`state.${view.state}`)),
    ),
    h("div", { class: "card-sub" }, `${t("revision", { n: latest && order ? order.revision : cardView.revision })} · ${view.buyer} → ${view.supplier}`),
  );
  if (!latest) {
    root.classList.add("superseded");
    if (order) root.append(h("div", { class: "muted" }, t("superseded", { n: order.revision })));
    return root;
  }
  const lines = order ? order.lines : cardView.lines;
  const table = h("div", { class: "lines", "data-key": "lines" });
  for (const line of lines) table.append(renderLine(app, order, line, answers.get(line.line_id) || (line.answer ? { answer: line.answer } : null), draft));
  root.append(table);
  const total = order ? totalOf(order.lines) : cardView.total;
  if (total !== null && total !== undefined) root.append(h("div", { class: "total", "data-key": "total" }, `${t("total")}: ${formatNumber(total)} ${view.currency}`));
  const erp = app.erpStatus.get(cardView.order_id);
  if (erp) root.append(h("div", { class: `erp erp-${erp.event}`, testid: "erp-status" }, erpText(erp)));
  if (order) root.append(renderActions(app, order, draft));
  root.append(renderTimeline(app, cardView.order_id, draft));
  return root;
}

function erpText(event) {
  const key = `erp.${event.event}`;
  const text = t(key, { state: event.data?.erp_state ?? event.state });
  return text === key ? `ERP: ${event.event.slice(4).replace(/_/g, " ")}` : text;
}

export function erpName(ref) {
  // The ERP connector's reference is erp:<database>:<purchase order id>.
  const [kind, db, id] = ref.split(":");
  return kind === "erp" && id ? `ERP ${db} #${id}` : ref;
}

function totalOf(lines) {
  if (!lines.length || lines.some((l) => l.unit_price === null || l.unit_price === undefined)) return null;
  return lines.reduce((sum, l) => sum + Number(l.quantity) * Number(l.unit_price), 0);
}

function renderLine(app, order, line, answer, draft) {
  const row = h("div", { class: "line", testid: "order-line", "data-line": line.line_id, "data-key": `line-${line.line_id}` },
    h("div", { class: "line-desc" }, h("span", { class: "desc" }, line.description), h("span", { class: "sku" }, line.sku)),
    h("div", { class: "line-nums" },
      h("span", { testid: "line-qty" }, `${formatNumber(line.quantity)} ${line.unit}`),
      line.unit_price != null ? h("span", {}, `× ${formatNumber(line.unit_price)}`) : null,
      line.requested_date ? h("span", {}, line.requested_date) : null,
    ),
  );
  if (answer) row.append(renderAnswer(answer));
  if (order && draft.mode === "answer") row.append(lineAnswerEditor(app, order, line, draft));
  if (order && draft.mode === "amend") row.append(lineAmendEditor(app, line, draft));
  return row;
}

function renderAnswer(answer) {
  const c = answer.change;
  const details = [];
  if (c) {
    if (c.quantity != null) details.push(`${t("qty")} ${t("changedTo")} ${formatNumber(c.quantity)}`);
    if (c.delivery_date) details.push(`${t("date")} ${t("changedTo")} ${c.delivery_date}`);
    if (c.unit_price != null) details.push(`${t("price")} ${t("changedTo")} ${formatNumber(c.unit_price)}`);
    if (c.substitute_sku) details.push(`${t("substitute")} ${c.substitute_sku}${c.substitute_description ? " " + c.substitute_description : ""}`);
  }
  return h("div", { class: `answer answer-${answer.answer}`, testid: "line-answer" },
    t(`answer.${answer.answer}`), details.length ? `: ${details.join(", ")}` : "", answer.note ? ` (${answer.note})` : "");
}

function lineAnswerEditor(app, order, line, draft) {
  const current = draft.answers[line.line_id] || (draft.answers[line.line_id] = { answer: "accepted", change: {} });
  // A choice goes through the card's own re-render, like every other update to it.
  const choices = ["accepted", "accepted_with_changes", "backordered", "rejected"].map((code) =>
    h("button", {
      class: `chip ${current.answer === code ? "on" : ""}`, testid: `answer-${code}`, type: "button",
      onclick: () => { current.answer = code; app.rerenderOrder(order.id); },
    }, t({ accepted: "accept", accepted_with_changes: "change", backordered: "backorder", rejected: "reject" }[code])));
  const fields = current.answer === "accepted_with_changes" ? h("div", { class: "change-fields" },
    field("number", t("newQty"), "change-qty", current.change, "quantity", line.quantity),
    field("date", t("newDate"), "change-date", current.change, "delivery_date", line.requested_date),
    field("number", t("newPrice"), "change-price", current.change, "unit_price", line.unit_price),
    field("text", t("substitute"), "change-sku", current.change, "substitute_sku", ""),
    field("text", t("substituteName"), "change-sku-name", current.change, "substitute_description", ""),
  ) : null;
  return h("div", { class: "line-editor" }, h("div", { class: "chips" }, choices), fields);
}

function field(type, label, testid, target, key, placeholder) {
  return h("label", { class: "field" }, h("span", {}, label),
    h("input", {
      type, testid, value: target[key] ?? "", placeholder: placeholder ?? "", step: type === "number" ? "any" : undefined,
      oninput: (e) => { target[key] = e.target.value; },
    }));
}

function lineAmendEditor(app, line, draft) {
  const current = draft.amend[line.line_id] || (draft.amend[line.line_id] = { quantity: String(Number(line.quantity)), requested_date: line.requested_date || "" });
  return h("div", { class: "change-fields" },
    field("number", t("qty"), "amend-qty", current, "quantity", ""),
    field("date", t("date"), "amend-date", current, "requested_date", ""),
  );
}

// The reason typed for the form open now (reject, decline, amend): each form has its own.
function reasonBox(draft, testid) {
  return h("input", { class: "reason", testid, placeholder: t("reason"), value: reasonOf(draft), oninput: (e) => { draft.reasons[draft.mode] = e.target.value; } });
}

function reasonOf(draft, fallback = "") {
  return draft.reasons[draft.mode] || fallback;
}

function renderActions(app, order, draft) {
  const me = app.session.user;
  const act = (fn, resets = true) => async (e) => {
    e.target.disabled = true;
    try {
      await fn();
      if (resets) Object.assign(draft, { mode: null, answers: {}, amend: {}, reasons: {} });
    } catch (err) {
      app.toast(t("error", { msg: err.message }));
    } finally {
      e.target.disabled = false;
      app.refreshOrder(order.id);
    }
  };
  const button = (label, testid, onclick, primary = false) => h("button", { class: primary ? "primary" : "", testid, type: "button", onclick }, label);
  const set = (mode) => () => { draft.mode = mode; app.rerenderOrder(order.id); };
  const bar = h("div", { class: "actions", "data-key": "actions" });
  if (me === order.supplier && AWAITING_SUPPLIER.has(order.state)) {
    if (draft.mode === "answer") {
      bar.append(
        button(t("submitAnswers"), "submit-answers", act(() => app.orderCommand("propose", order, { answers: answersOf(order, draft) })), true),
        button(t("cancel"), "cancel-edit", set(null)));
    } else if (draft.mode === "reject") {
      bar.append(reasonBox(draft, "reject-reason"),
        button(t("confirmReject"), "confirm-reject", act(() => app.orderCommand("reject", order, { reason: reasonOf(draft, t("reject")) }))),
        button(t("cancel"), "cancel-edit", set(null)));
    } else {
      bar.append(
        button(t("acceptAll"), "accept-all", act(() => app.orderCommand("confirm", order, {})), true),
        button(t("answerLines"), "answer-lines", set("answer")),
        button(t("rejectOrder"), "reject-order", set("reject")));
    }
  } else if (me === order.buyer && order.state === "changes_proposed") {
    if (draft.mode === "decline") {
      bar.append(reasonBox(draft, "decline-reason"),
        button(t("confirmDecline"), "confirm-decline", act(() => app.orderCommand("decline_changes", order, { reason: reasonOf(draft, t("declineChanges")) }))),
        button(t("cancel"), "cancel-edit", set(null)));
    } else {
      bar.append(
        button(t("acceptChanges"), "accept-changes", act(() => app.orderCommand("accept_changes", order, {})), true),
        button(t("declineChanges"), "decline-changes", set("decline")));
    }
  } else if (me === order.buyer && BUYER_CAN_AMEND.has(order.state) && draft.mode === "amend") {
    bar.append(reasonBox(draft, "amend-reason"),
      button(t("submitAmend"), "submit-amend", act(() => app.orderCommand("amend", order, { lines: amendedLines(order, draft), reason: reasonOf(draft, t("amend")) })), true),
      button(t("cancel"), "cancel-edit", set(null)));
  } else if (AWAITING_SUPPLIER.has(order.state)) {
    bar.append(h("span", { class: "muted" }, t("waitingSupplier")));
  } else if (order.state === "changes_proposed") {
    bar.append(h("span", { class: "muted" }, t("waitingBuyer")));
  }
  if (me === order.buyer && BUYER_CAN_AMEND.has(order.state) && !draft.mode) bar.append(button(t("amend"), "amend-order", set("amend")));
  bar.append(button(t("letter"), "download-letter", act(() => app.downloadLetter(order), false)));
  return bar;
}

function answersOf(order, draft) {
  return order.lines.map((line) => {
    const d = draft.answers[line.line_id] || { answer: "accepted", change: {} };
    const answer = { line_id: line.line_id, answer: d.answer };
    if (d.answer === "accepted_with_changes") {
      const change = {};
      for (const key of ["quantity", "unit_price", "delivery_date", "substitute_sku", "substitute_description"]) {
        if (d.change[key] !== undefined && d.change[key] !== "") change[key] = d.change[key];
      }
      answer.change = change;
    }
    return answer;
  });
}

function amendedLines(order, draft) {
  return order.lines.map((line) => {
    const d = draft.amend[line.line_id];
    const next = { ...line };
    for (const key of Object.keys(next)) if (next[key] === null) delete next[key];
    if (d) {
      if (d.quantity) next.quantity = d.quantity;
      if (d.requested_date) next.requested_date = d.requested_date;
    }
    return next;
  });
}

function renderTimeline(app, orderId, draft) {
  const box = h("div", { class: "timeline", "data-key": "timeline" });
  const toggle = h("button", {
    class: "link", testid: "toggle-timeline", type: "button",
    onclick: () => { draft.timeline = !draft.timeline; app.rerenderOrder(orderId); },
  }, draft.timeline ? t("hideTimeline") : t("showTimeline"));
  box.append(toggle);
  if (draft.timeline) {
    const events = app.orderEvents.get(orderId);
    if (!events) app.loadOrderEvents(orderId);
    else box.append(h("ol", { testid: "timeline" }, events.map((ev) =>
      h("li", {}, h("span", { class: "when" }, formatDateTime(ev.ts)), " ", t(`event.${ev.type}`), ` · ${ev.actor}`,
        ` · ${t("revision", { n: ev.revision })}`, ev.reason ? ` · ${ev.reason}` : ""))));
  }
  return box;
}
