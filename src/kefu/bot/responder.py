"""The bot as the core's Responder (services/ports.py): it answers consumers' messages with
this process's matchers, which it keeps, one per shop (BOT-5). app.py builds one per process
and hands the same cache to the knowledge base's routes, whose edits it must see. The bot's
routes start it with the server (`start`): the text tables load before the server takes
connections and are kept out of the garbage collector's scans, and every shop's matcher is
built in the background right after."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

from kefu.bot import replies, service
from kefu.bot.cache import KbCache
from kefu.bot.text import warm_up
from kefu.services.context import ConsumerActor, Context

log = logging.getLogger(__name__)


class BotResponder:
    def __init__(self, ctx: Context, matchers: KbCache | None = None) -> None:
        self.ctx = ctx
        self.matchers = matchers or KbCache()
        self.preloaded: asyncio.Task[int] | None = None

    async def start(self) -> None:
        """BOT-5: load the text tables now, then build every shop's matcher in the background."""
        await asyncio.to_thread(warm_up)
        # pypinyin's tables alone are some 200,000 objects that live as long as the process:
        # out of the collector's full scans, which would otherwise stall the loop for a few
        # hundred milliseconds each (and did, on a consumer's first answer).
        gc.freeze()
        self.preloaded = asyncio.create_task(self._preload())

    async def _preload(self) -> int:
        try:
            return await service.preload(self.ctx, self.matchers)
        except Exception:
            # A shop whose base cannot be read now is built on its first question instead.
            log.exception("bot: building the matchers at start-up failed")
            return 0

    async def stop(self) -> None:
        if self.preloaded is not None:
            self.preloaded.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.preloaded

    async def reply(
        self, consumer: ConsumerActor, *, conversation_id: int, seq: int, text: str
    ) -> None:
        """BOT-3/BOT-4: the bot's answer to the consumer's message `seq`, or a miss."""
        await replies.reply(
            self.ctx, self.matchers, consumer, conversation_id=conversation_id, seq=seq, text=text
        )
