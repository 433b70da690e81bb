// The app shell's conversations (templates/partials/sidebar.html), kept live by the tab's one socket:
// a new message moves its room to the top, shows its start and, unless I am looking at that room,
// grows its unread badge; my own "read" events (from any of my tabs) clear it. The title carries the total.
import { mentions, notifyBrowser } from "./notifications.js";
import { live } from "./socket.js";

const PREVIEW_CHARS = 60;
const list = document.getElementById("sidebar-rooms");
const me = Number(document.body.dataset.userId);
const myHandle = document.body.dataset.handle;
const openRoomId = Number(document.getElementById("room")?.dataset.roomId) || null;
const plainTitle = document.title;

function rowOf(roomId) {
  return list.querySelector(`li[data-room-id="${Number(roomId)}"]`);
}

function unreadOf(row) {
  return Number(row.querySelector("[data-unread]").textContent) || 0;
}

function setUnread(row, count) {
  row.querySelector("[data-unread]").textContent = String(count);
  row.querySelector(".conversation-badge").hidden = !count;
  row.classList.toggle("unread", count > 0);
  showTitleCount();
}

// Muted rooms keep their badge but do not count in the title: they asked not to call me.
function showTitleCount() {
  let total = 0;
  for (const row of list.querySelectorAll("li[data-room-id]")) if (row.dataset.muted !== "true") total += unreadOf(row);
  document.title = total ? `(${total}) ${plainTitle}` : plainTitle;
}

function nameOf(person) {
  return person.display_name || person.handle;
}

function preview(text) {
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text;
}

function showLast(row, message) {
  const last = row.querySelector(".conversation-last");
  last.replaceChildren();
  if (!message) return;
  if (message.author) {
    last.append(Object.assign(document.createElement("span"), { className: "conversation-author", textContent: `${nameOf(message.author)}:` }), " ");
  }
  if (message.deleted) last.append(Object.assign(document.createElement("em"), { textContent: "deleted" }));
  else last.append(preview(message.body));
}

function onMessageNew({ message }) {
  const row = rowOf(message.room);
  if (!row) {
    refresh();
    return;
  }
  // Events of one room can arrive out of order (two server threads publish after their commits): an
  // older one still counts as unread but does not replace the newer preview.
  if (message.seq > Number(row.dataset.lastSeq || 0)) {
    row.dataset.lastSeq = String(message.seq);
    showLast(row, message);
    list.prepend(row);
  }
  const mine = message.author?.id === me;
  const looking = message.room === openRoomId && !document.hidden;
  if (!mine && !looking) setUnread(row, unreadOf(row) + 1);
  if (!mine && message.author && popsUp(row, message)) {
    notifyBrowser({ title: nameOf(message.author), body: preview(message.body), url: `/rooms/${message.room}/`, tag: `room-${message.room}` });
  }
}

// A direct message pops up unless its room is muted; one that @mentions me pops up as that mention
// (notifications.js, from the server's notification.new), not twice.
function popsUp(row, message) {
  return row.dataset.kind === "direct" && row.dataset.muted !== "true" && !mentions(message.body, myHandle);
}

function onRead(event) {
  if (event.user !== me) return;
  const row = rowOf(event.room);
  if (row) setUnread(row, Math.max(0, Number(row.dataset.lastSeq) - event.seq));
}

function onPresence(event) {
  for (const row of list.querySelectorAll(`li[data-peer-id="${Number(event.user)}"]`)) showPresence(row, event.online);
}

function showPresence(row, online) {
  const dot = row.querySelector("[data-presence]");
  if (!dot) return;
  dot.classList.toggle("online", online);
  dot.title = online ? "Online" : "Offline";
  dot.firstElementChild.textContent = online ? "online" : "offline";
}

function onRoomUpdated({ room }) {
  const row = rowOf(room.id);
  if (row && room.kind === "group") row.querySelector(".conversation-name").textContent = `# ${room.title}`;
}

function onMemberLeft(event) {
  if (event.user === me) rowOf(event.room)?.remove();
  showTitleCount();
}

// A room I was not in a moment ago (a new DM, an accepted invitation, a lobby match): the list
// comes again from GET /api/rooms/, the same rows the page was rendered from.
let refreshing = null;
function refresh() {
  refreshing ??= fetch("/api/rooms/", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(String(response.status)))))
    .then((rooms) => list.replaceChildren(...rooms.map(buildRow)))
    .catch(() => {})
    .finally(() => {
      refreshing = null;
      document.getElementById("sidebar-empty").hidden = list.children.length > 0;
      showTitleCount();
    });
}

function buildRow(item) {
  const row = document.getElementById("sidebar-row").content.firstElementChild.cloneNode(true);
  const { room, peer } = item;
  row.dataset.roomId = String(room.id);
  row.dataset.kind = room.kind;
  row.dataset.lastSeq = String(room.last_seq);
  row.dataset.muted = String(item.membership.notification_level === "nothing");
  const link = row.querySelector("a");
  link.href = `/rooms/${room.id}/`;
  if (room.id === openRoomId) link.setAttribute("aria-current", "page");
  row.querySelector(".conversation-icon").append(iconOf(room, peer));
  row.querySelector(".conversation-name").textContent = titleOf(room, peer);
  if (peer) {
    row.dataset.peerId = String(peer.id);
    const dot = Object.assign(document.createElement("span"), { className: "presence" });
    dot.dataset.presence = "";
    dot.append(Object.assign(document.createElement("span"), { className: "visually-hidden" }));
    row.querySelector(".conversation-icon").after(dot);
    showPresence(row, peer.online);
  }
  showLast(row, item.last_message);
  setUnread(row, room.id === openRoomId ? 0 : item.unread);
  return row;
}

function titleOf(room, peer) {
  if (room.kind === "direct") return peer ? nameOf(peer) : "Direct message";
  if (room.kind === "random") return room.closed_at ? "Lobby chat (ended)" : "Lobby chat";
  return `# ${room.title}`;
}

function iconOf(room, peer) {
  if (room.kind === "direct" && peer?.avatar_thumbnail_url) {
    return Object.assign(document.createElement("img"), { className: "avatar avatar-md", src: peer.avatar_thumbnail_url, alt: "" });
  }
  const blank = document.createElement("span");
  blank.className = room.kind === "direct" ? "avatar avatar-md avatar-blank" : "avatar avatar-md avatar-hash";
  blank.textContent = room.kind === "direct" ? (peer?.handle[0] || "?").toUpperCase() : room.kind === "random" ? "?" : "#";
  return blank;
}

if (list) {
  showTitleCount();
  live.on("message.new", onMessageNew);
  live.on("read", onRead);
  live.on("presence", onPresence);
  live.on("room.updated", onRoomUpdated);
  live.on("member.left", onMemberLeft);
  live.on("match.found", refresh);
  live.on("member.joined", (event) => { if (event.member?.user?.id === me && !rowOf(event.room)) refresh(); });
  // Whatever happened while the socket was down (and the page was not reloaded) shows after it is back.
  let opened = false;
  live.onOpen(() => { if (opened) refresh(); opened = true; });
  // "hello" comes once the socket listens to all my rooms: from then on the list is live (the shell
  // shows it, and so can a test).
  live.on("hello", () => { document.body.dataset.live = "on"; });
  live.onClose(() => { document.body.dataset.live = "off"; });
}
