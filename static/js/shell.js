// The app shell's keyboard and small-screen behaviour: the account menu (a <details>, so it opens
// without JavaScript too) gains Escape, arrow keys and closing on an outside click; below ~760 px the
// conversations become a drawer that the header's button opens (without JavaScript it links to /rooms/).
// Logging out forgets what this browser kept for me (pending messages, drafts): the next person to sign
// in here must not see or send them.

const menu = document.getElementById("user-menu");
const sidebar = document.getElementById("sidebar");
const toggle = document.getElementById("sidebar-toggle");
const logout = document.querySelector("form[data-logout]");
// My pending messages and drafts (room_outbox.js); "parley." keys are this device's settings, kept.
const PERSONAL_PREFIX = "parley:";

function menuItems() {
  return [...menu.querySelectorAll(".menu-list a, .menu-list button")];
}

function closeMenu({ focusSummary }) {
  if (!menu.open) return;
  menu.open = false;
  if (focusSummary) menu.querySelector("summary").focus();
}

function onMenuKey(event) {
  if (event.key === "Escape") {
    closeMenu({ focusSummary: true });
    return;
  }
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  event.preventDefault();
  menu.open = true;
  const items = menuItems();
  const at = items.indexOf(document.activeElement);
  const step = event.key === "ArrowDown" ? 1 : -1;
  const next = at === -1 ? (step === 1 ? 0 : items.length - 1) : (at + step + items.length) % items.length;
  items[next].focus();
}

function drawerOpen() {
  return sidebar.classList.contains("open");
}

function setDrawer(open, { focus } = { focus: false }) {
  sidebar.classList.toggle("open", open);
  toggle.setAttribute("aria-expanded", String(open));
  if (open && focus) sidebar.querySelector("a")?.focus();
  if (!open && focus) toggle.focus();
}

function forgetPersonalData() {
  for (const storage of [localStorage, sessionStorage]) {
    const keys = Array.from({ length: storage.length }, (_, index) => storage.key(index));
    for (const key of keys) if (key?.startsWith(PERSONAL_PREFIX)) storage.removeItem(key);
  }
}

if (logout) logout.addEventListener("submit", forgetPersonalData);

if (menu) {
  menu.addEventListener("keydown", onMenuKey);
  document.addEventListener("click", (event) => { if (!menu.contains(event.target)) closeMenu({ focusSummary: false }); });
}

if (sidebar && toggle) {
  toggle.setAttribute("role", "button");
  toggle.addEventListener("click", (event) => {
    event.preventDefault();
    setDrawer(!drawerOpen(), { focus: true });
  });
  toggle.addEventListener("keydown", (event) => {
    // A link answers Enter only; a button answers Space too.
    if (event.key === " ") {
      event.preventDefault();
      setDrawer(!drawerOpen(), { focus: true });
    }
  });
  sidebar.addEventListener("keydown", (event) => { if (event.key === "Escape" && drawerOpen()) setDrawer(false, { focus: true }); });
  document.addEventListener("click", (event) => {
    if (drawerOpen() && !sidebar.contains(event.target) && !toggle.contains(event.target)) setDrawer(false);
  });
}
