"""The one WebSocket of a browser tab: typed JSON events in, typed JSON events out."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer

MAX_FRAME_BYTES = 64 * 1024
CLOSE_UNAUTHENTICATED = 4401
CLOSE_MESSAGE_TOO_BIG = 1009


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_verified:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        await self.accept()
        await self.send_event({"type": "hello", "user": {"id": user.pk, "handle": user.handle}})

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None or text_data is None:
            await self.send_error("bad_frame", "Send JSON text frames.")
            return
        if len(text_data) > MAX_FRAME_BYTES:
            await self.close(code=CLOSE_MESSAGE_TOO_BIG)
            return
        try:
            event = json.loads(text_data)
        except ValueError:
            await self.send_error("bad_json", "This frame is not valid JSON.")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self.send_error("bad_event", "An event is a JSON object with a string `type`.")
            return
        if event["type"] == "ping":
            await self.send_event({"type": "pong", "id": event.get("id")})
            return
        await self.send_error("unknown_type", f"Unknown event type {event['type'][:40]!r}.", request_id=event.get("id"))

    async def send_event(self, event: dict) -> None:
        await self.send(text_data=json.dumps(event, separators=(",", ":")))

    async def send_error(self, code: str, message: str, *, request_id=None) -> None:
        await self.send_event({"type": "error", "code": code, "message": message, "id": request_id})
