// The bell's unread badge, kept live by the tab's socket; browser notifications (the Notification API)
// for direct messages and mentions while the tab is hidden, once the person turned them on; and
// @mentions in message text (DOM nodes and textContent, never HTML).
import { live } from "./socket.js";

// The same rule as chat.notifications.MENTION_PATTERN: not preceded by a word character or "@",
// 3 to 30 handle characters, not followed by a word character.
const MENTION = /(?<![\p{L}\p{N}_@])@([A-Za-z0-9_]{3,30})(?![\p{L}\p{N}_])/gu;
// Permission is the browser's; whether this person wants them on this device is theirs (turned off
// here without revoking the permission, which a page cannot do).
const OPT_IN = "parley.browser-notifications";

export function appendWithMentions(element, text, myHandle) {
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    element.append(text.slice(last, match.index));
    const mine = mentions(match[0], myHandle);
    element.append(Object.assign(document.createElement("span"), { className: mine ? "mention mention-me" : "mention", textContent: match[0] }));
    last = match.index + match[0].length;
  }
  element.append(text.slice(last));
}

export function mentions(text, handle) {
  if (!handle) return false;
  return [...text.matchAll(MENTION)].some((match) => match[1].toLowerCase() === handle.toLowerCase());
}

// This module listens to the socket itself; a module that also hands it events (room.js did) must not
// count an invitation twice, so each event object is handled once.
const handled = new WeakSet();

export function notificationEvent(event) {
  if (handled.has(event)) return;
  handled.add(event);
  if (event.type === "notification.new" || event.type === "notification.read") showUnread(event.unread);
  // An invitation is stored as a notification but announced only by room.invited (chat/signals.py).
  if (event.type === "room.invited") showUnread(unread() + 1);
  if (event.type === "notification.new" && event.notification.kind === "mention") {
    const { actor, room_title: roomTitle, preview, url, id } = event.notification;
    const who = actor ? actor.display_name || actor.handle : "Someone";
    notifyBrowser({ title: roomTitle ? `${who} mentioned you in # ${roomTitle}` : `${who} mentioned you`, body: preview, url, tag: `notification-${id}` });
  }
  if (event.type === "notification.read") markListRead(event.ids);
  // The notifications page offers the new ones rather than inserting rows: their wording is the server's.
  if (event.type === "notification.new" || event.type === "room.invited") {
    const fresh = document.getElementById("notifications-fresh");
    if (fresh) fresh.hidden = false;
  }
}

function unread() {
  return Number(document.querySelector("[data-notification-badge]")?.textContent) || 0;
}

function showUnread(count) {
  for (const badge of document.querySelectorAll("[data-notification-badge]")) {
    badge.textContent = String(count);
    badge.hidden = !count;
  }
}

// The notifications page: rows read elsewhere (another tab, "mark all") lose their unread look here too.
function markListRead(ids) {
  const rows = document.querySelectorAll(".notification.unread");
  for (const row of rows) if (!ids || ids.includes(Number(row.dataset.id))) showRead(row);
}

function showRead(row) {
  row.classList.remove("unread");
  row.querySelector(".unread-label")?.remove();
  row.querySelector("[data-mark-read]")?.remove();
}

// Browser notifications

function browserNotificationsOn() {
  return "Notification" in window && Notification.permission === "granted" && localStorage.getItem(OPT_IN) === "on";
}

export function notifyBrowser({ title, body, url, tag }) {
  if (!document.hidden || !browserNotificationsOn()) return;
  const notification = new Notification(title, { body, tag });
  notification.addEventListener("click", () => {
    window.focus();
    location.assign(url);
  });
}

function showOptIn(control) {
  const status = document.getElementById(control.getAttribute("aria-describedby"));
  const on = browserNotificationsOn();
  const denied = "Notification" in window && Notification.permission === "denied";
  control.textContent = on ? "Turn off browser notifications" : "Turn on browser notifications";
  control.setAttribute("aria-pressed", String(on));
  control.disabled = denied;
  if (status) {
    status.textContent = denied
      ? "This browser blocks notifications from this site: allow them in its site settings first."
      : on
        ? "On: direct messages and mentions pop up while this tab is in the background."
        : "Off: nothing pops up outside this page.";
  }
}

async function toggleOptIn(control) {
  if (browserNotificationsOn()) {
    localStorage.setItem(OPT_IN, "off");
  } else if ((await Notification.requestPermission()) === "granted") {
    localStorage.setItem(OPT_IN, "on");
  }
  for (const each of document.querySelectorAll("[data-browser-notifications]")) showOptIn(each);
  control.focus();
}

for (const control of document.querySelectorAll("[data-browser-notifications]")) {
  if (!("Notification" in window)) continue;
  control.hidden = false;
  showOptIn(control);
  control.addEventListener("click", () => toggleOptIn(control));
}

// Marking one notification read without leaving the page (the page's forms work without JavaScript too).
for (const form of document.querySelectorAll("form[data-mark-read]")) {
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const response = await fetch(form.dataset.api, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": form.elements.csrfmiddlewaretoken.value, Accept: "application/json" } });
    if (response.ok) {
      showRead(form.closest(".notification"));
      showUnread((await response.json()).unread ?? unread());
    }
  });
}

if (document.querySelector("[data-notification-badge]")) {
  for (const type of ["notification.new", "notification.read", "room.invited"]) live.on(type, notificationEvent);
}
