// The lobby page: live counts pushed over the socket, and "Talk to a stranger" (the queue).
// Every piece of user text goes through textContent, never innerHTML.
import { live, send } from "./socket.js";

const lobby = document.getElementById("lobby");
const form = document.getElementById("lobby-join");
const input = document.getElementById("lobby-tags");
const waiting = document.getElementById("lobby-waiting");
const waitingTags = document.getElementById("lobby-waiting-tags");
const stop = document.getElementById("lobby-stop");
const errorLine = document.getElementById("lobby-error");
const connection = document.getElementById("connection");

let queued = false; // Wanted in the queue: a reconnect joins again (the server forgot the closed socket).

function tags() {
  return input.value.split(/[\s,]+/).map((tag) => tag.replace(/^#/, "").toLowerCase()).filter(Boolean);
}

function join() {
  sessionStorage.setItem("parley.lobby.tags", JSON.stringify(tags()));
  send({ type: "lobby.join", tags: tags() });
}

function showWaiting(on, joinedTags = []) {
  waiting.hidden = !on;
  form.hidden = on;
  waitingTags.textContent = joinedTags.length ? ` who likes ${joinedTags.join(", ")}` : "";
  if (on) stop.focus();
}

const handlers = {
  "lobby.counts": ({ online, waiting: count, rooms }) => {
    document.getElementById("online-count").textContent = String(online);
    document.getElementById("waiting-count").textContent = String(count);
    for (const { id, members } of rooms) {
      const cell = document.querySelector(`#public-rooms li[data-room-id="${Number(id)}"] [data-members]`);
      if (cell) cell.textContent = String(members);
    }
  },
  "lobby.queued": ({ tags: joinedTags }) => { if (queued) showWaiting(true, joinedTags); },
  "lobby.left": () => showWaiting(false),
  "match.found": ({ room }) => {
    queued = false;
    location.assign(lobby.dataset.roomUrl.replace(/0\/$/, `${Number(room.id)}/`));
  },
  error: ({ message }) => {
    queued = false;
    showWaiting(false);
    errorLine.textContent = message;
  },
};

function connect() {
  live.onOpen(() => {
    connection.textContent = "";
    send({ type: "lobby.subscribe" });
    if (queued) join();
  });
  live.onClose(() => { connection.textContent = "Reconnecting…"; });
  live.on("*", (event) => handlers[event.type]?.(event));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  errorLine.textContent = "";
  queued = true;
  join();
});

stop.addEventListener("click", () => {
  queued = false;
  send({ type: "lobby.leave" });
  showWaiting(false);
  input.focus();
});

connect();
