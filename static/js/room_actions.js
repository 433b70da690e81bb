// What can be done to a message: its actions toolbar (Reply, React, Edit, Delete, Report), the
// reaction picker, the reply/edit bar above the composer and the delete confirmation. Every action is
// a real button, reachable with Tab, not only on hover.
import { readReactions, renderReactions, truncate } from "./room_render.js";

function button(action, label) {
  const element = Object.assign(document.createElement("button"), { type: "button", textContent: label, className: "link" });
  element.dataset.action = action;
  return element;
}

// Adds (or redraws) the toolbar of a stored message; pending and deleted messages have none.
export function addActions(item, room) {
  item.querySelector(".actions")?.remove();
  if (!item.dataset.seq || item.dataset.deleted) return;
  const toolbar = document.createElement("div");
  toolbar.className = "actions";
  toolbar.setAttribute("role", "toolbar");
  toolbar.setAttribute("aria-label", "Message actions");
  const react = button("react", "React");
  react.setAttribute("aria-haspopup", "true");
  react.setAttribute("aria-expanded", "false");
  toolbar.append(button("reply", "Reply"), react);
  if (item.classList.contains("mine")) {
    toolbar.append(button("edit", "Edit"), button("delete", "Delete"));
  } else if (room.reportUrl) {
    toolbar.append(Object.assign(document.createElement("a"), { className: "report", textContent: "Report", href: room.reportUrl.replace("{id}", item.dataset.id) }));
  }
  item.querySelector(".reactions").after(toolbar);
}

// The bar above the composer while replying to or editing a message.
export class ComposeContext {
  constructor({ bar, input, draft, onChange }) {
    Object.assign(this, { bar, input, draft, onChange });
    this.text = bar.querySelector("#compose-context-text");
    this.mode = null; // "reply" | "edit" | null
    this.messageId = null;
    this.savedDraft = "";
    bar.querySelector("#compose-cancel").addEventListener("click", () => this.cancel());
  }

  reply(item) {
    this.end();
    this.mode = "reply";
    this.messageId = Number(item.dataset.id);
    const author = item.querySelector(".author").textContent;
    this.show(`Replying to ${author}: ${truncate(item.querySelector(".body").textContent, 80)}`);
  }

  edit(item) {
    this.end();
    this.mode = "edit";
    this.messageId = Number(item.dataset.id);
    this.savedDraft = this.input.value;
    this.draft.paused = true;
    this.input.value = item.dataset.body || "";
    this.show("Editing your message (Escape cancels)");
  }

  show(text) {
    this.text.textContent = text;
    this.bar.hidden = false;
    this.input.focus();
  }

  // After a reply was sent or an edit saved: the composer goes back to the draft it held.
  end() {
    if (this.mode === "edit") {
      this.input.value = this.savedDraft;
      this.draft.paused = false;
      this.draft.save();
    }
    this.mode = null;
    this.messageId = null;
    this.bar.hidden = true;
  }

  cancel() {
    this.end();
    this.input.focus();
  }
}

// The handful of emoji, shown under the message whose React button opened it.
export class ReactionPicker {
  constructor(element, onPick) {
    this.element = element;
    this.opener = null;
    element.addEventListener("click", (event) => {
      const choice = event.target.closest("button[data-emoji]");
      if (!choice) return;
      const item = this.opener.closest(".message");
      this.close();
      onPick(item, choice.dataset.emoji);
    });
    element.addEventListener("keydown", (event) => this.key(event));
    document.addEventListener("click", (event) => {
      if (this.opener && !element.contains(event.target) && event.target !== this.opener) this.close(false);
    });
  }

  toggle(opener) {
    if (this.opener === opener) return this.close();
    this.close(false);
    this.opener = opener;
    opener.setAttribute("aria-expanded", "true");
    opener.after(this.element);
    this.element.hidden = false;
    this.element.querySelector("button").focus();
  }

  close(refocus = true) {
    if (!this.opener) return;
    this.element.hidden = true;
    this.opener.setAttribute("aria-expanded", "false");
    if (refocus) this.opener.focus();
    this.opener = null;
  }

  key(event) {
    const choices = [...this.element.querySelectorAll("button")];
    const at = choices.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      const step = event.key === "ArrowRight" ? 1 : -1;
      choices[(at + step + choices.length) % choices.length].focus();
    }
  }
}

// A reaction.added / reaction.removed event applied to the message's drawn reactions.
export function applyReaction(item, { emoji, user }, added, room) {
  const reactions = readReactions(item);
  let entry = reactions.find((reaction) => reaction.emoji === emoji);
  if (!entry) {
    if (!added) return;
    entry = { emoji, user_ids: [] };
    reactions.push(entry);
  }
  entry.user_ids = entry.user_ids.filter((id) => id !== user);
  if (added) entry.user_ids.push(user);
  renderReactions(item, reactions, room);
}

export function reactedByMe(item, emoji, myId) {
  return readReactions(item).some((reaction) => reaction.emoji === emoji && reaction.user_ids.includes(myId));
}
