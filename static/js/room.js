// The room page, live over the tab's shared socket (socket.js): messages in seq order, pending sends,
// replies, reactions, edits and deletes, typing, presence and the "Seen" mark of direct rooms.
// Every piece of user text goes through textContent (markup.js builds nodes), never innerHTML.
import { notificationEvent } from "./notifications.js";
import { UploadTray } from "./attachments.js";
import { showPreview } from "./link_preview.js";
import { live } from "./socket.js";
import { addActions, applyReaction, ComposeContext, reactedByMe, ReactionPicker } from "./room_actions.js";
import { History } from "./room_history.js";
import { Draft, Outbox } from "./room_outbox.js";
import { layout, localizeTime, renderMessage } from "./room_render.js";

const root = document.getElementById("room");
const roomId = Number(root.dataset.roomId);
const myId = Number(root.dataset.userId);
const list = document.getElementById("messages");
const composer = document.getElementById("composer");
const input = composer.querySelector("textarea");
const errorLine = document.getElementById("composer-error");
const typingLine = document.getElementById("typing");
const connection = document.getElementById("connection");
const announcer = document.getElementById("announcer");
const deleteDialog = document.getElementById("delete-dialog");

const room = {
  id: roomId,
  myId,
  handle: root.dataset.handle,
  reportUrl: root.dataset.reportUrl,
  names: new Map([...document.querySelectorAll(".members li[data-user-id]")].map((item) => [Number(item.dataset.userId), item.querySelector("a").textContent.trim()])),
};
let lastSeq = Number(root.dataset.lastSeq);
// Opened away from the newest (?around=, ?before=, ?after=): what is on screen is not the newest, so
// nothing is marked read from this page, and new messages are offered through "Jump to newest".
const detached = "around" in root.dataset;
let peerRead = "peerRead" in root.dataset ? Number(root.dataset.peerRead) : null;
let lastTypingSent = 0;
let readSent = 0;
let readTimer = null;
let deleting = null;
const typers = new Map();

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

const draft = new Draft({ roomId, userId: myId, input });
const context = new ComposeContext({ bar: document.getElementById("compose-context"), input, draft });
const outbox = new Outbox({
  roomId,
  userId: myId,
  list,
  render: (entry) => renderMessage({
    room: roomId, seq: 0, id: "", author: { id: myId, handle: room.handle }, body: entry.body,
    created_at: entry.createdAt, reply_to: null, attachments: [], reactions: [],
  }, room),
  send: (entry) => live.send({
    type: "message.send", id: entry.clientId, room: roomId, body: entry.body,
    client_id: entry.clientId, attachments: entry.attachments, reply_to: entry.replyTo,
  }),
});
const history = new History({
  root, list, roomId, detached,
  render: (messages) => messages.map((message) => decorate(renderMessage(message, room), message)),
  onChange: () => { layout(list); placeSeen(); },
});
const picker = new ReactionPicker(document.getElementById("reaction-picker"), toggleReaction);

function connect() {
  live.onOpen(() => {
    connection.textContent = "";
    root.classList.remove("offline");
    live.send({ type: "resume", rooms: { [roomId]: lastSeq } });
    // The page's dots were drawn before this socket listened: ask who is online now.
    live.send({ type: "presence.query", room: roomId });
    outbox.transmitAll();
    markRead();
  });
  live.onClose(() => {
    root.classList.add("offline");
    connection.textContent = "Reconnecting…";
  });
  live.on("*", handle);
}

const handlers = {
  "message.new": ({ message }) => { settle(message); showMessage(message, true); },
  "message.ack": ({ message }) => { settle(message); showMessage(message, false); },
  "message.edited": ({ message }) => showMessage(message, false),
  "message.deleted": ({ message }) => showMessage(message, false),
  "message.preview": ({ room: id, message_id, preview }) => {
    const item = id === roomId ? document.getElementById(`m-${message_id}`) : null;
    if (item) showPreview(item, preview);
  },
  "reaction.added": (event) => reactionEvent(event, true),
  "reaction.removed": (event) => reactionEvent(event, false),
  read: ({ room: id, user, seq }) => {
    if (id !== roomId || user === myId || peerRead === null) return;
    peerRead = Math.max(peerRead, seq);
    placeSeen();
  },
  typing: ({ room: id, user }) => {
    if (id !== roomId || user.id === myId) return;
    clearTimeout(typers.get(user.handle));
    typers.set(user.handle, setTimeout(() => { typers.delete(user.handle); renderTyping(); }, 3000));
    renderTyping();
  },
  presence: ({ user, online }) => showPresence(user, online),
  "presence.snapshot": ({ room: id, online }) => {
    if (id !== roomId) return;
    const now = new Set(online.map(Number));
    for (const item of document.querySelectorAll(".members li[data-user-id]")) {
      showPresence(item.dataset.userId, now.has(Number(item.dataset.userId)));
    }
  },
  resync: ({ room: id }) => { if (id === roomId) location.reload(); },
  error: ({ message, id, code, retry_after: retryAfter }) => {
    // The server's database was away for a moment: the same client_id goes again (stored at most once).
    if (code === "unavailable" && outbox.has(id)) {
      outbox.retryLater(id, (retryAfter || 1) * 1000);
      return;
    }
    errorLine.textContent = message;
    if (outbox.has(id)) outbox.fail(id, { refused: true });
  },
};

function handle(event) {
  handlers[event.type]?.(event);
  notificationEvent(event);
}

function showPresence(user, online) {
  const dot = document.querySelector(`.members li[data-user-id="${Number(user)}"] .presence`);
  if (!dot) return;
  dot.classList.toggle("online", online);
  dot.title = online ? "online" : "offline";
  dot.setAttribute("aria-label", dot.title);
}

// My message's ack and its message.new travel separate paths and come in either order:
// whichever is first replaces the pending copy.
function settle(message) {
  if (message.room === roomId && message.author?.id === myId) outbox.settle(message.client_id);
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

// What the server's rendering has besides the payload: the toolbar, and my raw text for editing.
function decorate(item, message) {
  if (message.author?.id === myId && !message.deleted) item.dataset.body = message.body;
  addActions(item, room);
  return item;
}

function showMessage(message, announce) {
  if (message.room !== roomId) return;
  const existing = document.getElementById(`m-${message.id}`);
  const element = decorate(renderMessage(message, room), message);
  if (existing) {
    keepCard(existing, element, message);
    if (existing.classList.contains("highlight")) element.classList.add("highlight");
    existing.replaceWith(element);
  } else if (detached) {
    // This page ends before the newest: a new message would leave a gap. "Jump to newest" is offered.
    advance(message.seq);
    return;
  } else {
    document.getElementById("empty")?.remove();
    const wasAtBottom = history.atBottom();
    // Insert in seq order, whatever order live events and resume replies arrive in.
    const later = [...list.querySelectorAll(".message[data-seq]")].find((el) => Number(el.dataset.seq) > message.seq);
    list.insertBefore(element, later || list.querySelector(".pending"));
    advance(message.seq);
    if (announce && message.author?.id !== myId) announcer.textContent = `${element.querySelector(".author").textContent}: ${element.querySelector(".body").textContent}`;
    history.followEnd(wasAtBottom || message.author?.id === myId, element);
    markRead();
  }
  layout(list);
  placeSeen();
}

// An ack or message.new built before the link's card was fetched says `preview: null`; only an edit
// (a new edited_at) or a delete takes a card away.
function keepCard(existing, element, message) {
  const card = existing.querySelector(".link-preview");
  if (card && !message.preview && !message.deleted && existing.dataset.edited === element.dataset.edited) {
    element.querySelector(".body").after(card);
  }
}

function reactionEvent(event, added) {
  const item = event.room === roomId ? document.getElementById(`m-${event.message}`) : null;
  if (item) applyReaction(item, event, added, room);
}

function toggleReaction(item, emoji) {
  const type = reactedByMe(item, emoji, myId) ? "reaction.remove" : "reaction.add";
  if (!live.send({ type, message: Number(item.dataset.id), emoji })) errorLine.textContent = "You are offline: try again when reconnected.";
}

// "Seen" under my last message the other person of a direct room has read.
function placeSeen() {
  document.getElementById("seen")?.remove();
  if (peerRead === null) return;
  const read = [...list.querySelectorAll(".message.mine[data-seq]")].filter((item) => Number(item.dataset.seq) <= peerRead).at(-1);
  if (read) read.append(Object.assign(document.createElement("p"), { className: "seen muted", id: "seen", textContent: "Seen" }));
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

function saveEdit(body) {
  if (!body) {
    errorLine.textContent = "A message cannot be empty: delete it instead.";
    return;
  }
  if (!live.send({ type: "message.edit", id: `edit-${context.messageId}`, message: context.messageId, body })) {
    errorLine.textContent = "You are offline: the edit is kept here until you are back.";
    return;
  }
  errorLine.textContent = "";
  context.end();
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = input.value.trim();
  if (context.mode === "edit") return saveEdit(body);
  const { ids: attachments, reason } = tray.readyIds();
  if (attachments === null) {
    errorLine.textContent = reason;
    return;
  }
  if (!body && !attachments.length) return;
  outbox.add({ body, attachments, replyTo: context.mode === "reply" ? context.messageId : null });
  errorLine.textContent = "";
  draft.clear();
  context.end();
  tray.clear();
  layout(list);
  history.followEnd(true, list.lastElementChild);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    composer.requestSubmit();
  } else if (event.key === "Escape" && context.mode) {
    event.preventDefault();
    context.cancel();
  } else if (event.key === "ArrowUp" && !input.value && !context.mode) {
    const mine = [...list.querySelectorAll(".message.mine[data-seq]:not([data-deleted])")].at(-1);
    if (mine) {
      event.preventDefault();
      context.edit(mine);
    }
  }
});

input.addEventListener("paste", (event) => tray.paste(event));

input.addEventListener("input", () => {
  const now = Date.now();
  if (now - lastTypingSent > 2000 && live.send({ type: "typing", room: roomId })) lastTypingSent = now;
});

list.addEventListener("click", (event) => {
  const item = event.target.closest(".message");
  if (!item) return;
  const action = event.target.closest("[data-action]")?.dataset.action;
  const reaction = event.target.closest(".reaction");
  const reply = event.target.closest(".reply[data-reply-to]");
  if (action === "reply") context.reply(item);
  else if (action === "edit") context.edit(item);
  else if (action === "react") picker.toggle(event.target.closest("[data-action]"));
  else if (action === "delete") {
    deleting = Number(item.dataset.id);
    deleteDialog.showModal();
  } else if (reaction) toggleReaction(item, reaction.dataset.emoji);
  else if (reply) jumpTo(event, Number(reply.dataset.replyTo));
});

deleteDialog.addEventListener("close", () => {
  if (deleteDialog.returnValue === "delete" && deleting && !live.send({ type: "message.delete", message: deleting })) {
    errorLine.textContent = "You are offline: try again when reconnected.";
  }
  deleting = null;
});

// A reply's quote leads to the original: here if it is on the page, else the page opened around it.
function jumpTo(event, messageId) {
  const original = document.getElementById(`m-${messageId}`);
  if (!original) return; // the link's own ?around= loads it
  event.preventDefault();
  for (const item of list.querySelectorAll(".message.highlight")) item.classList.remove("highlight");
  original.classList.add("highlight");
  original.scrollIntoView({ block: "center" });
  original.querySelector(".permalink")?.focus({ preventScroll: true });
}

// On a narrow screen the members list starts folded.
if (matchMedia("(max-width: 760px)").matches) document.getElementById("members-fold").open = false;

document.addEventListener("visibilitychange", markRead);
for (const time of list.querySelectorAll("time")) localizeTime(time);
for (const item of list.querySelectorAll(".message[data-seq]")) addActions(item, room);
outbox.restore();
layout(list);
placeSeen();
const highlighted = list.querySelector(".message.highlight");
if (highlighted) highlighted.scrollIntoView({ block: "center" });
else list.scrollTop = list.scrollHeight;
history.showJump();
connect();
