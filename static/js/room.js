// The room page, live over the tab's shared socket (socket.js): messages in seq order, pending sends, typing and presence.
// Every piece of user text goes through textContent, never innerHTML.
import { appendWithMentions, notificationEvent } from "./notifications.js";
import { appendAttachments, UploadTray } from "./attachments.js";
import { showPreview } from "./link_preview.js";
import { live } from "./socket.js";

const root = document.getElementById("room");
const roomId = Number(root.dataset.roomId);
const myId = Number(root.dataset.userId);
const list = document.getElementById("messages");
const composer = document.getElementById("composer");
const input = composer.querySelector("textarea");
const errorLine = document.getElementById("composer-error");
const typingLine = document.getElementById("typing");
const connection = document.getElementById("connection");

let lastSeq = Number(root.dataset.lastSeq);
// Opened around an older message (?around=, a search hit): what is on screen is not the newest, so
// nothing is marked read from this page.
const detached = "around" in root.dataset;
let lastTypingSent = 0;
let readSent = 0;
let readTimer = null;
const typers = new Map();
const pending = new Map(); // client_id -> {element, body, attachments}
const attach = composer.querySelector(".attach");
const tray = new UploadTray({
  list: document.getElementById("uploads"),
  input: attach.querySelector("input[type=file]"),
  dropZone: root,
  csrfToken: composer.querySelector("[name=csrfmiddlewaretoken]").value,
  maxFiles: Number(attach.dataset.maxFiles),
  maxBytes: Number(attach.dataset.maxBytes),
  onChange: (message) => { errorLine.textContent = message; },
});
// With scripts, files upload as soon as they are picked: the form's own file field only serves pages without.
attach.classList.add("enhanced");

function connect() {
  live.onOpen(() => {
    connection.textContent = "";
    root.classList.remove("offline");
    live.send({ type: "resume", rooms: { [roomId]: lastSeq } });
    // The page's dots were drawn before this socket listened: ask who is online now.
    live.send({ type: "presence.query", room: roomId });
    for (const [clientId, item] of pending) sendMessage(clientId, item.body, item.attachments);
    markRead();
  });
  live.onClose(() => {
    root.classList.add("offline");
    connection.textContent = "Reconnecting…";
  });
  live.on("*", handle);
}

const handlers = {
  "message.new": ({ message }) => { settle(message); showMessage(message); },
  "message.ack": ({ message }) => { settle(message); showMessage(message); },
  "message.edited": ({ message }) => showMessage(message),
  "message.deleted": ({ message }) => showMessage(message),
  "message.preview": ({ room, message_id, preview }) => {
    const item = room === roomId ? document.getElementById(`m-${message_id}`) : null;
    if (item) showPreview(item, preview);
  },
  typing: ({ room, user }) => {
    if (room !== roomId || user.id === myId) return;
    clearTimeout(typers.get(user.handle));
    typers.set(user.handle, setTimeout(() => { typers.delete(user.handle); renderTyping(); }, 3000));
    renderTyping();
  },
  presence: ({ user, online }) => showPresence(user, online),
  "presence.snapshot": ({ room, online }) => {
    if (room !== roomId) return;
    const now = new Set(online.map(Number));
    for (const item of document.querySelectorAll(".members li[data-user-id]")) {
      showPresence(item.dataset.userId, now.has(Number(item.dataset.userId)));
    }
  },
  resync: ({ room }) => { if (room === roomId) location.reload(); },
  error: ({ message, id, code, retry_after: retryAfter }) => {
    const item = pending.get(id);
    if (item && code === "unavailable") {
      // The server's database was away for a moment: the same client_id goes again (stored at most once).
      setTimeout(() => { if (pending.has(id)) sendMessage(id, item.body, item.attachments); }, (retryAfter || 1) * 1000);
      return;
    }
    errorLine.textContent = message;
    if (item) item.element.classList.add("failed");
  },
};

function showPresence(user, online) {
  const dot = document.querySelector(`.members li[data-user-id="${Number(user)}"] .presence`);
  if (!dot) return;
  dot.classList.toggle("online", online);
  dot.title = online ? "online" : "offline";
  dot.setAttribute("aria-label", dot.title);
}

function handle(event) {
  handlers[event.type]?.(event);
  notificationEvent(event);
}

// My message's ack and its message.new travel separate paths and come in either order:
// whichever is first replaces the pending copy.
function settle(message) {
  if (message.author?.id !== myId) return;
  pending.get(message.client_id)?.element.remove();
  pending.delete(message.client_id);
}

// Seqs are gapless, but two messages sent at the same moment can arrive out of order. lastSeq
// only moves over an unbroken run, so a reconnect resumes from the first seq still missing, and
// a gap that lasts asks the server for what is missing.
const early = new Set();
let gapTimer = null;
function advance(seq) {
  if (seq <= lastSeq) return;
  early.add(seq);
  while (early.delete(lastSeq + 1)) lastSeq += 1;
  clearTimeout(gapTimer);
  gapTimer = early.size ? setTimeout(() => {
    live.send({ type: "resume", rooms: { [roomId]: lastSeq } });
  }, 2000) : null;
}

function showMessage(message) {
  if (message.room !== roomId) return;
  document.getElementById("empty")?.remove();
  const existing = document.getElementById(`m-${message.id}`);
  const element = renderMessage(message);
  if (existing) {
    keepCard(existing, element, message);
    existing.replaceWith(element);
    return;
  }
  // Insert in seq order, whatever order live events and resume replies arrive in.
  const later = [...list.querySelectorAll(".message[data-seq]")].find((el) => Number(el.dataset.seq) > message.seq);
  list.insertBefore(element, later || list.querySelector(".pending"));
  advance(message.seq);
  element.scrollIntoView({ block: "end" });
  markRead();
}

// An ack or message.new built before the link's card was fetched says `preview: null`; only an edit
// (a new edited_at) or a delete takes a card away.
function keepCard(existing, element, message) {
  const card = existing.querySelector(".link-preview");
  if (card && !message.preview && !message.deleted && existing.dataset.edited === element.dataset.edited) {
    element.querySelector(".body").after(card);
  }
}

function renderMessage(message) {
  const item = document.createElement("li");
  item.className = "message" + (message.author?.id === myId ? " mine" : "");
  item.id = `m-${message.id}`;
  item.dataset.seq = message.seq;
  item.dataset.id = message.id;
  item.dataset.edited = message.edited_at || "";
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author ? message.author.display_name || message.author.handle : "Former member";
  const time = document.createElement("time");
  time.dateTime = message.created_at;
  time.textContent = new Date(message.created_at).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  meta.append(author, " ", time);
  if (message.edited_at) meta.append(" ", Object.assign(document.createElement("span"), { className: "muted", textContent: "(edited)" }));
  item.append(meta);
  if (message.reply_to) {
    item.append(Object.assign(document.createElement("blockquote"), { className: "reply", textContent: message.reply_to.body }));
  }
  const body = document.createElement("p");
  body.className = "body";
  if (message.deleted) {
    const tombstone = message.removal_reason ? `Removed by a moderator: ${message.removal_reason}` : "Message deleted";
    body.append(Object.assign(document.createElement("em"), { className: "muted", textContent: tombstone }));
  } else {
    appendWithMentions(body, message.body, root.dataset.handle);
  }
  item.append(body);
  appendAttachments(item, message.attachments);
  if (!message.deleted) showPreview(item, message.preview);
  return item;
}

// Tells the server how far I have read, at most once a second, and only while I can see the page.
function markRead() {
  if (detached || document.hidden || lastSeq <= readSent || readTimer) return;
  readTimer = setTimeout(() => {
    readTimer = null;
    if (document.hidden || !live.send({ type: "read", room: roomId, seq: lastSeq })) return;
    readSent = lastSeq;
  }, 1000);
}

function renderTyping() {
  const names = [...typers.keys()].map((handle) => `@${handle}`);
  typingLine.textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
}

function sendMessage(clientId, body, attachments) {
  live.send({ type: "message.send", id: clientId, room: roomId, body, client_id: clientId, attachments });
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = input.value.trim();
  const { ids: attachments, reason } = tray.readyIds();
  if (attachments === null) {
    errorLine.textContent = reason;
    return;
  }
  if (!body && !attachments.length) return;
  const clientId = crypto.randomUUID();
  const element = renderMessage({ room: roomId, seq: 0, id: "", author: { id: myId, handle: root.dataset.handle }, body, created_at: new Date().toISOString() });
  element.id = `pending-${clientId}`;
  element.classList.add("pending");
  delete element.dataset.seq;
  list.append(element);
  pending.set(clientId, { element, body, attachments });
  errorLine.textContent = "";
  input.value = "";
  tray.clear();
  sendMessage(clientId, body, attachments);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

input.addEventListener("paste", (event) => tray.paste(event));

input.addEventListener("input", () => {
  const now = Date.now();
  if (now - lastTypingSent > 2000 && live.send({ type: "typing", room: roomId })) lastTypingSent = now;
});

document.addEventListener("visibilitychange", markRead);
const highlighted = list.querySelector(".message.highlight");
if (highlighted) highlighted.scrollIntoView({ block: "center" });
else list.lastElementChild?.scrollIntoView({ block: "end" });
connect();
