// The unread badge in the header, and @mentions in message text (DOM nodes and textContent, never HTML).
// The room page's socket hands every event to notificationEvent(); pages without a socket refresh
// the badge when the tab comes back into view, rather than opening a socket of their own.

// The same rule as chat.notifications.MENTION_PATTERN: not preceded by a word character or "@",
// 3 to 30 handle characters, not followed by a word character.
const MENTION = /(?<![\p{L}\p{N}_@])@([A-Za-z0-9_]{3,30})(?![\p{L}\p{N}_])/gu;

export function appendWithMentions(element, text, myHandle) {
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    element.append(text.slice(last, match.index));
    const mine = myHandle && match[1].toLowerCase() === myHandle.toLowerCase();
    element.append(Object.assign(document.createElement("span"), { className: mine ? "mention mention-me" : "mention", textContent: match[0] }));
    last = match.index + match[0].length;
  }
  element.append(text.slice(last));
}

export function notificationEvent(event) {
  if (event.type === "notification.new" || event.type === "notification.read") showUnread(event.unread);
  // An invitation is stored as a notification but announced only by room.invited (chat/signals.py).
  if (event.type === "room.invited") showUnread(unread() + 1);
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

async function refresh() {
  const response = await fetch("/api/notifications/?limit=1", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.ok) showUnread((await response.json()).unread);
}

if (document.querySelector("[data-notification-badge]") && !document.getElementById("room")) {
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh().catch(() => {}); });
}
