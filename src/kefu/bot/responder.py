"""The bot as the core's Responder (services/ports.py): it answers consumers' messages with
this process's matchers, which it keeps, one per shop (BOT-5). app.py builds one per process
and hands the same cache to the knowledge base's routes, whose edits it must see."""

from __future__ import annotations

from kefu.bot import replies
from kefu.bot.cache import KbCache
from kefu.services.context import ConsumerActor, Context


class BotResponder:
    def __init__(self, ctx: Context, matchers: KbCache | None = None) -> None:
        self.ctx = ctx
        self.matchers = matchers or KbCache()

    async def reply(
        self, consumer: ConsumerActor, *, conversation_id: int, seq: int, text: str
    ) -> None:
        """BOT-3/BOT-4: the bot's answer to the consumer's message `seq`, or a miss."""
        await replies.reply(
            self.ctx, self.matchers, consumer, conversation_id=conversation_id, seq=seq, text=text
        )
