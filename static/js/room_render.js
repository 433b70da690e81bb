// A message as the same DOM as templates/rooms/_message.html, and the list's layout around messages:
// times in the viewer's zone, day separators and runs of one author. User text: textContent only.
import { appendAttachments } from "./attachments.js";
import { showPreview } from "./link_preview.js";
import { renderMarkup } from "./markup.js";

const GROUP_MINUTES = 5;
const timeFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat([], { dateStyle: "full", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat([], { weekday: "long", month: "long", day: "numeric", year: "numeric" });

function make(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// `room` is {id, myId, handle, names: Map(user id -> name)}.
export function renderMessage(message, room) {
  const item = make("li", { className: "message" + (message.author?.id === room.myId ? " mine" : ""), id: `m-${message.id}` });
  Object.assign(item.dataset, { seq: message.seq, id: message.id, author: message.author?.id ?? "", edited: message.edited_at || "" });
  if (message.deleted) item.dataset.deleted = "true";
  const name = message.author ? message.author.display_name || message.author.handle : "Former member";
  const time = make("time", { dateTime: message.created_at });
  const meta = make("div", { className: "meta" }, [
    make("span", { className: "author", textContent: name }), " ",
    make("a", { className: "permalink", href: `?around=${message.id}` }, [time]),
  ]);
  if (message.edited_at && !message.deleted) meta.append(" ", make("span", { className: "edited muted", textContent: "(edited)" }));
  item.append(meta);
  if (message.reply_to) item.append(renderReply(message.reply_to));
  const body = make("div", { className: "body" });
  if (message.deleted) body.append(make("em", { className: "muted", textContent: tombstone(message) }));
  else renderMarkup(body, message.body, room.handle);
  item.append(body);
  appendAttachments(item, message.attachments);
  if (!message.deleted) showPreview(item, message.preview);
  const reactions = make("ul", { className: "reactions" });
  reactions.setAttribute("aria-label", "Reactions");
  item.append(reactions);
  renderReactions(item, message.reactions || [], room);
  localizeTime(time);
  return item;
}

function renderReply(reply) {
  const link = make("a", { className: "reply", href: `?around=${reply.id}` }, [
    make("span", { className: "reply-author", textContent: reply.author ? `@${reply.author}` : "Former member" }), " ",
    make("span", { className: "reply-body", textContent: reply.deleted ? tombstone(reply) : truncate(reply.body, 100) }),
  ]);
  link.dataset.replyTo = reply.id;
  return link;
}

// Django's truncatechars: at most `limit` characters, the last one an ellipsis when cut.
export function truncate(text, limit) {
  const chars = [...text];
  return chars.length > limit ? chars.slice(0, limit - 1).join("") + "…" : text;
}

// The reactions of a message from [{emoji, user_ids}]: counts, mine pressed, who in the title.
export function renderReactions(item, reactions, room) {
  const list = item.querySelector(".reactions");
  list.replaceChildren(...reactions.filter((r) => r.user_ids.length).map((reaction) => {
    const mine = reaction.user_ids.includes(room.myId);
    const button = make("button", {
      type: "button",
      className: "reaction" + (mine ? " mine" : ""),
      title: reaction.user_ids.map((id) => room.names.get(id) || "a former member").join(", "),
    }, [reaction.emoji, " ", make("span", { className: "count", textContent: String(reaction.user_ids.length) })]);
    button.dataset.emoji = reaction.emoji;
    button.dataset.userIds = reaction.user_ids.join(" ");
    button.setAttribute("aria-pressed", String(mine));
    return make("li", {}, [button]);
  }));
}

// The reactions as drawn (by the server or by renderReactions), to change one and draw them again.
export function readReactions(item) {
  return [...item.querySelectorAll(".reactions .reaction")].map((button) => ({
    emoji: button.dataset.emoji,
    user_ids: button.dataset.userIds.split(" ").filter(Boolean).map(Number),
  }));
}

export function localizeTime(time) {
  const date = new Date(time.dateTime);
  if (Number.isNaN(date.getTime())) return;
  time.textContent = timeFormat.format(date);
  time.title = fullFormat.format(date);
}

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(date) === dayKey(today)) return "Today";
  if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
  return dayFormat.format(date);
}

function messageTime(item) {
  const time = item.querySelector(".meta time");
  return time ? new Date(time.dateTime) : new Date();
}

// Day separators in the viewer's zone, and "grouped" on a message that follows one of the same
// author within a few minutes (its name and time are then hidden). Cheap enough to redo on every change.
export function layout(list) {
  for (const separator of list.querySelectorAll(".day-separator")) separator.remove();
  let previous = null;
  for (const item of list.querySelectorAll(".message")) {
    const when = messageTime(item);
    const newDay = !previous || dayKey(previous.when) !== dayKey(when);
    if (newDay) {
      const separator = make("li", { className: "day-separator" }, [make("span", { textContent: dayLabel(when) })]);
      separator.setAttribute("role", "separator");
      // Above the "New messages" divider when it opens the day.
      const divider = item.previousElementSibling?.classList.contains("unread-divider") ? item.previousElementSibling : item;
      divider.before(separator);
    }
    const adjacent = previous && item.previousElementSibling === previous.item;
    const grouped = !newDay && adjacent && item.dataset.author && item.dataset.author === previous.item.dataset.author
      && when - previous.when < GROUP_MINUTES * 60000;
    item.classList.toggle("grouped", Boolean(grouped));
    previous = { item, when };
  }
}

// A moderator's removal says so, with the reason, where a person's own delete says only "deleted".
export function tombstone(message) {
  return message.removal_reason ? `Removed by a moderator: ${message.removal_reason}` : "Message deleted";
}
