// The tab's one WebSocket to /ws/, shared by every module of the page (sidebar, room, lobby,
// notifications): each subscribes to the event types it cares about. It is opened again whenever
// it closes, with exponential backoff and jitter, so a restarted server is not hit by every tab at once.
const listeners = new Map(); // event type ("*" for every event) -> Set of handlers
const openHandlers = new Set();
const closeHandlers = new Set();
let socket = null;
let retries = 0;
let started = false;

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/`);
  socket.addEventListener("open", () => {
    retries = 0;
    for (const handler of openHandlers) handler();
  });
  socket.addEventListener("message", (frame) => dispatch(JSON.parse(frame.data)));
  socket.addEventListener("close", () => {
    for (const handler of closeHandlers) handler();
    setTimeout(connect, Math.min(30000, 500 * 2 ** retries++) * (0.5 + Math.random()));
  });
}

function dispatch(event) {
  // The server's keep-alive is answered here, once, whoever else is listening; the echoed id tells
  // the server how far this tab has read (a tab that stops reading is closed, then resumes).
  if (event.type === "ping") send({ type: "pong", id: event.id });
  for (const handler of listeners.get(event.type) || []) handler(event);
  for (const handler of listeners.get("*") || []) handler(event);
}

// Modules register in the same turn as the page loads; the socket opens after them, so that
// no module misses the first "open" (where resumes and subscriptions are sent).
function start() {
  if (started) return;
  started = true;
  queueMicrotask(connect);
}

export function send(event) {
  if (socket?.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(event));
  return true;
}

export const live = {
  on(type, handler) {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type).add(handler);
    start();
  },
  onOpen(handler) {
    openHandlers.add(handler);
    if (socket?.readyState === WebSocket.OPEN) handler();
    start();
  },
  onClose(handler) {
    closeHandlers.add(handler);
  },
  send,
  get connected() {
    return socket?.readyState === WebSocket.OPEN;
  },
};
