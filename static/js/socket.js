// The page's one WebSocket to /ws/, opened again whenever it closes. Exponential backoff with
// jitter, so a restarted server is not hit by every tab at once.
export function keepConnected({ created, opened, event, closed }) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let retries = 0;
  function connect() {
    const socket = new WebSocket(`${scheme}://${location.host}/ws/`);
    created(socket);
    socket.addEventListener("open", () => {
      retries = 0;
      opened();
    });
    socket.addEventListener("message", (frame) => event(JSON.parse(frame.data)));
    socket.addEventListener("close", () => {
      closed();
      setTimeout(connect, Math.min(30000, 500 * 2 ** retries++) * (0.5 + Math.random()));
    });
  }
  connect();
}
