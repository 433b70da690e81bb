// What I typed and have not seen stored yet. A message shows at once as pending; the server's
// message.ack settles it; a refusal, or no ack within ACK_TIMEOUT_MS while the socket was up, marks
// it "failed — retry · discard". Pending messages are kept in sessionStorage, so a reload sends them
// again with their client_id (the server answers a retried client_id with the stored message, never a
// copy), and the composer's draft is kept per room in localStorage. Both are keyed by person as well as
// room: the tab may be signed in as someone else next (shell.js also clears them on logout).
// A message the server refused stays until I retry or discard it: sending it again by itself would
// only be refused again.
const ACK_TIMEOUT_MS = 10000;

function storageKey(kind, userId, roomId) {
  return `parley:${kind}:${userId}:${roomId}`;
}

function stored(storage, key, fallback) {
  try {
    return JSON.parse(storage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

export class Outbox {
  // render(entry) -> the pending element; send(entry) -> false while offline.
  constructor({ roomId, userId, list, render, send }) {
    Object.assign(this, { userId, list, render, send });
    this.key = storageKey("pending", userId, roomId);
    this.items = new Map(); // client_id -> {entry, element, timer}
  }

  // A restored entry the server already stored (its ack was lost) is on the page as a stored message
  // (templates/rooms/_message.html marks my messages with their client_id): it is not pending any more.
  restore() {
    for (const entry of stored(sessionStorage, this.key, [])) {
      if (entry.userId !== this.userId || this.onPage(entry.clientId)) continue;
      this.show(entry);
      if (entry.refused) this.fail(entry.clientId, { refused: true });
    }
    this.save();
  }

  onPage(clientId) {
    return this.list.querySelector(`.message[data-client-id="${CSS.escape(String(clientId))}"]`) !== null;
  }

  add({ body, attachments, replyTo }) {
    const entry = {
      clientId: crypto.randomUUID(), userId: this.userId, body, attachments, replyTo, createdAt: new Date().toISOString(),
    };
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
    if (item.entry.refused) {
      delete item.entry.refused;
      this.save();
    }
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

  // On (re)connecting: what is waiting goes, what the server refused waits for its "retry".
  transmitAll() {
    for (const [clientId, item] of this.items) if (!item.entry.refused) this.transmit(clientId);
  }

  // Stored (its ack or message.new came), or discarded: either way it is no longer mine to send.
  settle(clientId) {
    const item = this.items.get(clientId);
    if (!item) return;
    clearTimeout(item.timer);
    item.element.remove();
    this.items.delete(clientId);
    this.save();
  }

  // refused: the server answered with an error (not a timeout, not "unavailable").
  fail(clientId, { refused = false } = {}) {
    const item = this.items.get(clientId);
    if (!item) return;
    clearTimeout(item.timer);
    item.timer = null;
    if (refused && !item.entry.refused) {
      item.entry.refused = true;
      this.save();
    }
    item.element.classList.add("failed");
    if (item.element.querySelector(".send-state")) return;
    const state = Object.assign(document.createElement("p"), { className: "send-state" });
    state.append(
      "failed — ",
      this.stateButton("retry", "Failed to send. Retry", () => this.transmit(clientId)),
      " · ",
      this.stateButton("discard", "Failed to send. Discard", () => this.settle(clientId)),
    );
    item.element.append(state);
  }

  stateButton(text, label, onClick) {
    const button = Object.assign(document.createElement("button"), { type: "button", className: "link", textContent: text });
    button.setAttribute("aria-label", label);
    button.addEventListener("click", onClick);
    return button;
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
  constructor({ roomId, userId, input }) {
    this.key = storageKey("draft", userId, roomId);
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
