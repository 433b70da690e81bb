"""The tutorial's ChatConsumer: join one group, send every received message to it.

BENCH_REFERENCE_SKIP_CLOSE=1 (an experiment, not the tutorial) skips the per-event
`aclose_old_connections()` thread hop that Channels' AsyncConsumer.dispatch makes before every
handler; this consumer touches no database, so the hop does nothing but cost.
"""

import json
import os

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

SKIP_CLOSE = bool(os.environ.get("BENCH_REFERENCE_SKIP_CLOSE"))


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room_group_name = f"chat_{self.scope['url_route']['kwargs']['room_name']}"
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data):
        # The bench sends Parley's frame shape; the tutorial reads "message", so accept both.
        data = json.loads(text_data)
        message = data.get("message", data.get("body"))
        await self.channel_layer.group_send(self.room_group_name, {"type": "chat.message", "message": message})

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"message": event["message"]}))

    if SKIP_CLOSE:

        async def dispatch(self, message):
            await getattr(self, get_handler_name(message))(message)
