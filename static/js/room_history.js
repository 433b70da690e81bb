// Scrolling through a room's history: older pages load as the list is scrolled to its top (through
// the cursor API) without moving what is on screen, and "Jump to newest" appears when the newest
// messages are out of view (or, on a page opened around an older message, not loaded at all).
const PAGE = 50;
const NEAR_PX = 150;

export class History {
  // render(messages) -> elements in the same order; onChange() after the list changed.
  constructor({ root, list, roomId, detached, render, onChange }) {
    Object.assign(this, { root, list, roomId, detached, render, onChange });
    this.loading = false;
    this.jump = document.getElementById("jump-newest");
    list.addEventListener("scroll", () => this.scrolled(), { passive: true });
    document.getElementById("older-link")?.addEventListener("click", (event) => {
      event.preventDefault();
      this.loadOlder();
    });
    this.jump.addEventListener("click", () => this.toNewest());
    this.showJump();
  }

  atBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < NEAR_PX;
  }

  scrolled() {
    if (this.list.scrollTop < NEAR_PX) this.loadOlder();
    this.showJump();
  }

  showJump() {
    this.jump.hidden = !this.detached && this.atBottom();
  }

  toNewest() {
    if (this.detached) {
      location.assign(this.root.dataset.roomUrl);
      return;
    }
    this.list.scrollTop = this.list.scrollHeight;
    this.showJump();
  }

  // After a message was added at the end: follow it if I was reading the end, else offer the jump.
  followEnd(wasAtBottom, element) {
    if (wasAtBottom && !this.detached) element.scrollIntoView({ block: "end" });
    this.showJump();
  }

  async loadOlder() {
    const more = document.getElementById("older");
    const first = this.list.querySelector(".message[data-seq]");
    if (this.loading || !more || !first) return;
    this.loading = true;
    more.classList.add("loading");
    try {
      const response = await fetch(`/api/rooms/${this.roomId}/messages/?before=${first.dataset.seq}&limit=${PAGE}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = await response.json();
      this.prepend(more, page.results);
      if (page.next && page.results.length) more.querySelector("a").href = `?before=${page.results[0].seq}`;
      else more.remove();
    } catch {
      // The link stays: scrolling up again, or following it, tries once more.
    } finally {
      more.classList.remove("loading");
      this.loading = false;
    }
  }

  // Inserts older messages above the first one, keeping the distance from the bottom: what was on
  // screen stays where it was.
  prepend(more, messages) {
    const fromBottom = this.list.scrollHeight - this.list.scrollTop;
    const fresh = this.render(messages).filter((element) => !document.getElementById(element.id));
    more.after(...fresh);
    this.onChange();
    this.list.scrollTop = this.list.scrollHeight - fromBottom;
  }
}
