// Order signatures made in the page: the statement every orderchat client signs
// (services/orders/evidence.statement: the JCS of {act, digest, order_id, revision, signer},
// digest = sha256 of the JCS of {revision, terms, answers}), signed with the same nkey the
// page connects with. The seed never leaves the page; the service checks the signature
// against the user's registered keys and stores it in the order's hash-chained log.
import { nkeys } from "@nats-io/nats-core";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

const enc = new TextEncoder();

// RFC 8785 (JCS) for the plain JSON of orders (strings, integers, null, arrays, objects):
// keys sorted by UTF-16 code units (what Array.prototype.sort does), strings escaped as
// JSON.stringify does (which is what JCS specifies), no whitespace.
export function canonical(value) {
  if (value === null || typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`cannot sign the number ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

const LINE_FIELDS = ["line_id", "sku", "description", "category", "quantity", "unit", "unit_price", "requested_date"];
const CHANGE_FIELDS = ["quantity", "unit_price", "delivery_date", "substitute_sku", "substitute_description"];

// A model as the service stores it: every field present, absent ones null.
const complete = (object, fields) => Object.fromEntries(fields.map((f) => [f, object[f] ?? null]));

const lineOf = (line) => complete(line, LINE_FIELDS);

const answerOf = (answer) => ({
  line_id: answer.line_id,
  answer: answer.answer,
  change: answer.change ? complete(answer.change, CHANGE_FIELDS) : null,
  note: answer.note ?? null,
});

function termsOf(order, { lines, notes } = {}) {
  return {
    order_id: order.id, erp_ref: order.erp_ref ?? null, buyer: order.buyer, supplier: order.supplier,
    currency: order.currency, notes: (notes ?? order.notes) ?? null, lines: (lines ?? order.lines).map(lineOf),
  };
}

function digestOf(revision, terms, answers) {
  const document = { revision, terms, answers: answers === null ? null : answers.map(answerOf) };
  return bytesToHex(sha256(enc.encode(canonical(document))));
}

function base64url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// What a command commits to: the act and the signed document, or null (nothing to sign).
function commitment(action, order, body) {
  if (action === "confirm") {
    const answers = order.lines.map((l) => ({ line_id: l.line_id, answer: "accepted" }));
    return { act: "confirm", revision: order.revision, terms: termsOf(order), answers };
  }
  if (action === "propose") {
    const codes = new Set(body.answers.map((a) => a.answer));
    if (codes.size === 1 && codes.has("rejected")) return null; // a rejection commits to nothing
    const act = codes.size === 1 && codes.has("accepted") ? "confirm" : "propose";
    return { act, revision: order.revision, terms: termsOf(order), answers: body.answers };
  }
  if (action === "accept_changes") {
    return { act: "accept_changes", revision: order.revision, terms: termsOf(order), answers: order.answers };
  }
  if (action === "amend") {
    return { act: "place", revision: order.revision + 1, terms: termsOf(order, { lines: body.lines, notes: body.notes }), answers: null };
  }
  return null;
}

export class Signer {
  constructor(seed) {
    const text = seed.trim();
    const found = /SU[A-Z2-7]{50,}/.exec(text); // a .nk file, or the seed section of a .creds file
    this.keypair = nkeys.fromSeed(enc.encode(found ? found[0] : text));
    this.publicKey = this.keypair.getPublicKey();
  }

  // The command fields (`signature`, `signing_key`) for `action` on `order`; {} when the
  // action commits to nothing that is signed.
  fieldsFor(user, action, order, body) {
    const what = commitment(action, order, body);
    if (!what) return {};
    const digest = digestOf(what.revision, what.terms, what.answers);
    const statement = canonical({ act: what.act, digest, order_id: order.id, revision: what.revision, signer: user });
    return { signature: base64url(this.keypair.sign(enc.encode(statement))), signing_key: this.publicKey };
  }
}
