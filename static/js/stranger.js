// A lobby chat's controls: "Next" (a new stranger), the end of the chat, and "Add friend" in place.
import { live, send } from "./socket.js";

const box = document.getElementById("stranger");
const room = document.getElementById("room");
const roomId = Number(room.dataset.roomId);
const status = document.getElementById("stranger-status");
const next = document.getElementById("stranger-next");
const friendForm = document.getElementById("stranger-friend");

const roomUrl = (id) => box.dataset.roomUrl.replace(/0\/$/, `${Number(id)}/`);
// The interests typed in the lobby, kept for "Next" (lobby.js stores them).
const tags = () => JSON.parse(sessionStorage.getItem("parley.lobby.tags") || "[]");

function ended(text) {
  room.classList.add("closed");
  status.textContent = text;
}

// Once I pressed Next, the chat's end (mine) must not replace "Looking…": the server's match.ended
// (to the room) and lobby.queued (to me) travel apart and can arrive in either order.
let lookingAgain = false;

next.hidden = false;
next.addEventListener("click", () => {
  lookingAgain = true;
  status.textContent = "Looking for someone new…";
  next.disabled = true;
  send({ type: "lobby.next", tags: tags() });
});

live.on("*", (event) => {
  if (event.type === "match.found") location.assign(roomUrl(event.room.id));
  if (event.type === "match.ended" && event.room === roomId) {
    const mine = event.by === Number(room.dataset.userId);
    if (mine && lookingAgain) room.classList.add("closed");
    else ended(mine ? "You left this conversation." : "They left. Press Next to meet someone else, or add them as a friend.");
  }
  if (event.type === "lobby.queued") status.textContent = "Looking for someone new…";
  if (event.type === "error" && event.code === "rate_limited") {
    next.disabled = false;
    lookingAgain = false;
    status.textContent = event.message;
  }
});

// Sends the friend request through the API and says how it went, without leaving the chat.
friendForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/friends/requests/", {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": friendForm.querySelector("[name=csrfmiddlewaretoken]").value,
    },
    body: JSON.stringify({ user: Number(box.dataset.peerId) }),
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    status.textContent = body.status === "friends" ? "You are friends now: this chat is kept as your conversation." : "Friend request sent. If they accept, this chat is kept.";
  } else {
    status.textContent = body.detail || Object.values(body.fields || {}).flat().join(" ") || "The request could not be sent.";
  }
});
