// A tiny DOM builder: h("div", {class: "x", onclick: fn}, child, "text", ...), and patch(),
// which brings a live element in line with a fresh rendering of it.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) listen(el, key.slice(2), value);
    else if (key === "testid") el.dataset.testid = value;
    else if (key in el && key !== "list" && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

// Handlers live on the element behind one shared listener, so that patch() can give a kept
// element the handlers of its newer rendering (they close over the newer state).
function listen(el, type, fn) {
  (el.handlers ||= {})[type] = fn;
  el.addEventListener(type, dispatch);
}

function dispatch(event) {
  this.handlers?.[event.type]?.(event);
}

// Live updates (a message, a receipt, an order event) render the conversation again. Swapping
// the new nodes in would take the field being typed in away from under the user: its focus,
// caret and IME composition go, and the keys pressed next land nowhere. patch() keeps every
// node that is still there and changes only what differs.
export function patch(live, next) {
  if (!sameKind(live, next)) {
    live.replaceWith(next);
    return next;
  }
  if (live.nodeType !== Node.ELEMENT_NODE) {
    if (live.nodeValue !== next.nodeValue) live.nodeValue = next.nodeValue;
    return live;
  }
  for (const { name } of [...live.attributes]) if (!next.hasAttribute(name)) live.removeAttribute(name);
  for (const { name, value } of next.attributes) if (live.getAttribute(name) !== value) live.setAttribute(name, value);
  for (const type of Object.keys(next.handlers || {})) live.addEventListener(type, dispatch);
  live.handlers = next.handlers;
  // The value attribute no longer moves a field once typed in: show the state's value, except
  // in the field in use, whose content is newer than any state rendered from it.
  if ((live.tagName === "INPUT" || live.tagName === "TEXTAREA") && live !== document.activeElement && live.value !== next.value) live.value = next.value;
  patchChildren(live, ...next.childNodes);
  return live;
}

// Children are matched by data-key (else data-testid), in order; unkeyed ones by kind, in
// order. Unmatched live children go first, so the kept ones need no moving (a move blurs).
export function patchChildren(parent, ...children) {
  const unkeyed = [];
  const keyed = new Map();
  for (const node of parent.childNodes) {
    const key = keyOf(node);
    if (key === undefined) unkeyed.push(node);
    else if (keyed.has(key)) keyed.get(key).push(node);
    else keyed.set(key, [node]);
  }
  const pairs = children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false).map((child) => {
    const pool = keyOf(child) === undefined ? unkeyed : keyed.get(keyOf(child)) || [];
    const i = pool.findIndex((node) => sameKind(node, child));
    return [i < 0 ? null : pool.splice(i, 1)[0], child];
  });
  for (const node of [unkeyed, ...keyed.values()].flat()) node.remove();
  let at = parent.firstChild;
  for (const [live, child] of pairs) {
    const node = live ? patch(live, child) : child;
    if (node === at) at = at.nextSibling;
    else parent.insertBefore(node, at);
  }
  return parent;
}

function keyOf(node) {
  return node.dataset?.key ?? node.dataset?.testid;
}

function sameKind(a, b) {
  return a.nodeType === b.nodeType && a.nodeName === b.nodeName && keyOf(a) === keyOf(b) && a.type === b.type;
}
