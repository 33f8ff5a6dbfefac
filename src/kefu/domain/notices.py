"""System notices (MSG-1): what the server itself says in a conversation, as a stable code and
parameters that each client translates into its viewer's language. Shop-authored text (welcome
and closing greetings, knowledge-base answers, quick phrases) is not a notice. Pure: stdlib only.

Each code keeps its zh-CN text here, written into the message body for clients and exports that
do not translate; web/src/locales/zh-CN/notices.json holds the same text (a test compares them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

NoticeParam = str | int


class NoticeCode(StrEnum):
    TRANSFERRED = "conversation.transferred"
    TRANSFERRED_TO_GROUP = "conversation.transferred_to_group"
    ENDED = "conversation.ended"
    AUTO_ENDED = "conversation.auto_ended"
    AUTO_END_WARNING = "conversation.auto_end_warning"
    LEFT_QUEUE = "conversation.left_queue"
    BOT_NO_ANSWER = "bot.no_answer"
    BOT_SUGGESTIONS = "bot.suggestions"
    OFFLINE_NO_AGENT = "offline.no_agent"
    OFFLINE_NO_PICKUP = "offline.no_pickup"
    OFFLINE_OUTSIDE_HOURS = "offline.outside_hours"
    OFFLINE_STARTED = "offline.started"
    RATING_INVITED = "rating.invited"
    RATING_FORCED = "rating.forced"
    RATING_THANKS = "rating.thanks"
    PROACTIVE_STARTED = "conversation.proactive_started"


# `{name}` placeholders read the same in str.format and in vue-i18n.
ZH_CN_TEXT: Mapping[NoticeCode, str] = {
    NoticeCode.TRANSFERRED: "{from_agent}已将会话转接给{to_agent}。",
    NoticeCode.TRANSFERRED_TO_GROUP: "{from_agent}已将会话转接到{group}，由{to_agent}为您服务。",
    NoticeCode.ENDED: "本次会话已结束，感谢您的咨询。",
    NoticeCode.AUTO_ENDED: "由于您{minutes}分钟未回复，本次会话已自动结束。",
    NoticeCode.AUTO_END_WARNING: "您已有一段时间未回复，会话将在{minutes}分钟后自动结束。",
    NoticeCode.LEFT_QUEUE: "您已离开排队。",
    NoticeCode.BOT_NO_ANSWER: "您的问题我还没理解，请换个方式问问",
    NoticeCode.BOT_SUGGESTIONS: (
        "您的问题我还没完全理解，您是不是想问下面的问题？也可以换个方式问问"
    ),
    NoticeCode.OFFLINE_NO_AGENT: "当前暂无客服在线，您可以留言，我们会尽快回复您。",
    NoticeCode.OFFLINE_NO_PICKUP: "客服暂时繁忙，您可以留言，我们会尽快回复您。",
    NoticeCode.OFFLINE_OUTSIDE_HOURS: "当前不在客服服务时间，您可以留言，我们会尽快回复您。",
    NoticeCode.OFFLINE_STARTED: "客服{agent}看到了您的留言，为您服务。",
    NoticeCode.RATING_INVITED: "客服{agent}邀请您对本次服务进行评价。",
    NoticeCode.RATING_FORCED: "会话已结束，请您对客服{agent}的服务进行评价。",
    NoticeCode.RATING_THANKS: "感谢您对客服{agent}的评价",
    NoticeCode.PROACTIVE_STARTED: "客服{agent}向您发起了会话。",
}


@dataclass(frozen=True, slots=True)
class Notice:
    code: NoticeCode
    params: dict[str, NoticeParam] = field(default_factory=dict)

    @property
    def zh_cn(self) -> str:
        """The body fallback: the code's zh-CN text with the parameters filled in."""
        return ZH_CN_TEXT[self.code].format_map(self.params)

    def to_meta(self) -> dict[str, Any]:
        """The notice as a message's `meta` holds it."""
        return {"notice": {"code": self.code.value, "params": dict(self.params)}}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any] | None) -> Notice | None:
        """The notice a message's `meta` holds; None for none or a code this server lacks."""
        raw = (meta or {}).get("notice")
        if not isinstance(raw, Mapping) or raw.get("code") not in _CODES:
            return None
        params = raw.get("params")
        kept = {
            str(k): v
            for k, v in (params.items() if isinstance(params, Mapping) else ())
            if isinstance(v, str | int) and not isinstance(v, bool)
        }
        return cls(NoticeCode(raw["code"]), kept)


_CODES = frozenset(c.value for c in NoticeCode)


def transferred(*, from_agent: str, to_agent: str) -> Notice:
    """CONV-7: the named agent accepted the conversation that `from_agent` offered."""
    return Notice(NoticeCode.TRANSFERRED, {"from_agent": from_agent, "to_agent": to_agent})


def transferred_to_group(*, from_agent: str, to_agent: str, group: str) -> Notice:
    """CONV-7: `from_agent` handed the conversation to a group; routing chose `to_agent`."""
    return Notice(
        NoticeCode.TRANSFERRED_TO_GROUP,
        {"from_agent": from_agent, "to_agent": to_agent, "group": group},
    )


def ended() -> Notice:
    """CONV-3: the agent ended the conversation."""
    return Notice(NoticeCode.ENDED)


def auto_ended(*, silent_for: timedelta) -> Notice:
    """CONV-3: the consumer stayed silent for `silent_for`."""
    return Notice(NoticeCode.AUTO_ENDED, {"minutes": _minutes(silent_for)})


def auto_end_warning(*, ends_within: timedelta) -> Notice:
    """CONV-3 (5-minute variant): the conversation ends within `ends_within` without a reply."""
    return Notice(NoticeCode.AUTO_END_WARNING, {"minutes": _minutes(ends_within)})


def left_queue() -> Notice:
    """ROUTE-4: the consumer left the queue."""
    return Notice(NoticeCode.LEFT_QUEUE)


def bot_no_answer() -> Notice:
    """BOT-4: the bot did not understand and has nothing close to offer."""
    return Notice(NoticeCode.BOT_NO_ANSWER)


def bot_suggestions() -> Notice:
    """BOT-5: the bot did not understand; the message offers near misses as "did you mean"."""
    return Notice(NoticeCode.BOT_SUGGESTIONS)


def offline_no_agent() -> Notice:
    """OFFL-1: nobody can answer now; the consumer may leave a message (also what a
    blacklisted consumer is told, ROUTE-5)."""
    return Notice(NoticeCode.OFFLINE_NO_AGENT)


def offline_no_pickup() -> Notice:
    """OFFL-1: queued past the shop's wait; the consumer may leave a message."""
    return Notice(NoticeCode.OFFLINE_NO_PICKUP)


def offline_outside_hours() -> Notice:
    """ROUTE-6: outside the shop's service hours; the consumer may leave a message."""
    return Notice(NoticeCode.OFFLINE_OUTSIDE_HOURS)


def offline_started(*, agent: str) -> Notice:
    """OFFL-3: an agent started a conversation from the consumer's offline message."""
    return Notice(NoticeCode.OFFLINE_STARTED, {"agent": agent})


def proactive_started(*, agent: str) -> Notice:
    """CONV-6: the named agent started the conversation with a recent buyer."""
    return Notice(NoticeCode.PROACTIVE_STARTED, {"agent": agent})


def _minutes(span: timedelta) -> int:
    return max(1, math.ceil(span.total_seconds() / 60))


def rating_invited(*, agent: str) -> Notice:
    """RATE-1: the agent invites the consumer to rate (a rating card)."""
    return Notice(NoticeCode.RATING_INVITED, {"agent": agent})


def rating_forced(*, agent: str) -> Notice:
    """RATE-1: the shop's rating card at the end of a human conversation."""
    return Notice(NoticeCode.RATING_FORCED, {"agent": agent})


def rating_thanks(*, agent: str) -> Notice:
    """RATE-2: "感谢您对客服XX的评价", naming the rated agent (CONV-7: the holder)."""
    return Notice(NoticeCode.RATING_THANKS, {"agent": agent})
