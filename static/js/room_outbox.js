// What I typed and have not seen stored yet. A message shows at once as pending; the server's
// message.ack settles it; a refusal, or no ack within ACK_TIMEOUT_MS while the socket was up, marks
// it "failed — retry". Pending messages are kept in sessionStorage, so a reload sends them again with
// their client_id (the server answers a retried client_id with the stored message, never a copy),
// and the composer's draft is kept per room in localStorage.
const ACK_TIMEOUT_MS = 10000;

function stored(storage, key, fallback) {
  try {
    return JSON.parse(storage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

export class Outbox {
  // render(entry) -> the pending element; send(entry) -> false while offline.
  constructor({ roomId, list, render, send }) {
    Object.assign(this, { list, render, send });
    this.key = `parley:pending:${roomId}`;
    this.items = new Map(); // client_id -> {entry, element, timer}
  }

  restore() {
    for (const entry of stored(sessionStorage, this.key, [])) this.show(entry);
  }

  add({ body, attachments, replyTo }) {
    const entry = { clientId: crypto.randomUUID(), body, attachments, replyTo, createdAt: new Date().toISOString() };
    this.show(entry);
    this.save();
    this.transmit(entry.clientId);
  }

  show(entry) {
    const element = this.render(entry);
    element.id = `pending-${entry.clientId}`;
    element.classList.add("pending");
    delete element.dataset.seq;
    this.list.append(element);
    this.items.set(entry.clientId, { entry, element, timer: null });
  }

  // Sends (again) with the same client_id. Offline it simply waits for the next transmitAll.
  transmit(clientId) {
    const item = this.items.get(clientId);
    if (!item) return;
    clearTimeout(item.timer);
    item.element.classList.remove("failed");
    item.element.querySelector(".send-state")?.remove();
    item.timer = this.send(item.entry) ? setTimeout(() => this.fail(clientId), ACK_TIMEOUT_MS) : null;
  }

  retryLater(clientId, delayMs) {
    const item = this.items.get(clientId);
    if (!item) return;
    clearTimeout(item.timer);
    item.timer = setTimeout(() => this.transmit(clientId), delayMs);
  }

  transmitAll() {
    for (const clientId of this.items.keys()) this.transmit(clientId);
  }

  settle(clientId) {
    const item = this.items.get(clientId);
    if (!item) return;
    clearTimeout(item.timer);
    item.element.remove();
    this.items.delete(clientId);
    this.save();
  }

  fail(clientId) {
    const item = this.items.get(clientId);
    if (!item) return;
    clearTimeout(item.timer);
    item.timer = null;
    item.element.classList.add("failed");
    if (item.element.querySelector(".send-state")) return;
    const retry = Object.assign(document.createElement("button"), { type: "button", className: "link", textContent: "retry" });
    retry.setAttribute("aria-label", "Failed to send. Retry");
    retry.addEventListener("click", () => this.transmit(clientId));
    const state = Object.assign(document.createElement("p"), { className: "send-state" });
    state.append("failed — ", retry);
    item.element.append(state);
  }

  has(clientId) {
    return this.items.has(clientId);
  }

  save() {
    const entries = [...this.items.values()].map((item) => item.entry);
    if (entries.length) sessionStorage.setItem(this.key, JSON.stringify(entries));
    else sessionStorage.removeItem(this.key);
  }
}

export class Draft {
  constructor(roomId, input) {
    this.key = `parley:draft:${roomId}`;
    this.input = input;
    input.value = localStorage.getItem(this.key) || input.value;
    this.paused = false; // while the composer holds an edit, which is not a draft
    input.addEventListener("input", () => this.save());
  }

  save() {
    if (this.paused) return;
    if (this.input.value) localStorage.setItem(this.key, this.input.value);
    else localStorage.removeItem(this.key);
  }

  clear() {
    this.input.value = "";
    localStorage.removeItem(this.key);
  }
}
