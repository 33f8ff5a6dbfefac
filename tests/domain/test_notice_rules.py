"""MSG-1 notices as pure values: one list of codes, each with its params, its zh-CN fallback and
a text in every locale of the web client."""

from __future__ import annotations

import json
import string
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.domain import notices
from kefu.domain.notices import ZH_CN_TEXT, Notice, NoticeCode

LOCALES = Path(__file__).resolve().parents[2] / "web" / "src" / "locales"
NAMES = st.text(min_size=1, max_size=20)

# One notice of each code, as the services build them.
EVERY_NOTICE = [
    notices.transferred(from_agent="小王", to_agent="Li"),
    notices.transferred_to_group(from_agent="小王", to_agent="Li", group="售后组"),
    notices.ended(),
    notices.auto_ended(silent_for=timedelta(minutes=15)),
    notices.auto_end_warning(ends_within=timedelta(minutes=1)),
    notices.left_queue(),
    notices.bot_no_answer(),
    notices.bot_suggestions(),
    notices.offline_no_agent(),
    notices.offline_no_pickup(),
    notices.offline_outside_hours(),
    notices.offline_started(agent="小王"),
    notices.rating_invited(agent="小王"),
    notices.rating_forced(agent="小王"),
    notices.rating_thanks(agent="小王"),
    notices.proactive_started(agent="小美"),
]


def _texts(locale: str) -> dict[str, str]:
    tree = json.loads((LOCALES / locale / "notices.json").read_text("utf-8"))

    def flat(node: dict[str, Any], prefix: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in node.items():
            if isinstance(value, dict):
                out |= flat(value, f"{prefix}{key}.")
            else:
                out[prefix + key] = value
        return out

    return flat(tree, "")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_msg_1_every_code_has_a_constructor() -> None:
    assert sorted(n.code for n in EVERY_NOTICE) == sorted(NoticeCode)


@pytest.mark.parametrize("notice", EVERY_NOTICE, ids=lambda n: n.code.value)
def test_msg_1_params_are_what_the_texts_name(notice: Notice) -> None:
    assert set(notice.params) == _placeholders(ZH_CN_TEXT[notice.code])
    assert set(notice.params) == _placeholders(_texts("en-US")[notice.code.value])


def test_msg_1_web_zh_cn_texts_are_the_server_fallbacks() -> None:
    assert _texts("zh-CN") == {code.value: text for code, text in ZH_CN_TEXT.items()}
    assert _texts("en-US").keys() == _texts("zh-CN").keys()


def test_msg_1_minutes_round_up_and_never_reach_zero() -> None:
    assert notices.auto_end_warning(ends_within=timedelta(seconds=61)).params == {"minutes": 2}
    assert notices.auto_end_warning(ends_within=timedelta(seconds=0)).params == {"minutes": 1}
    assert notices.auto_ended(silent_for=timedelta(minutes=5)).params == {"minutes": 5}


@given(NAMES, NAMES, NAMES)
def test_msg_1_a_notice_survives_meta_and_names_stay_text(a: str, b: str, group: str) -> None:
    notice = notices.transferred_to_group(from_agent=a, to_agent=b, group=group)
    assert Notice.from_meta(json.loads(json.dumps(notice.to_meta()))) == notice
    # Braces in a name are the name's own characters, never a placeholder.
    assert notice.zh_cn == f"{a}已将会话转接到{group}，由{b}为您服务。"


@pytest.mark.parametrize(
    "meta",
    [
        None,
        {},
        {"greeting": "welcome"},
        {"notice": "conversation.ended"},
        {"notice": {"code": "conversation.exploded", "params": {}}},
    ],
)
def test_msg_1_no_notice_or_an_unknown_code_falls_back_to_the_body(meta: Any) -> None:
    assert Notice.from_meta(meta) is None


def test_msg_1_only_text_and_number_params_are_read() -> None:
    meta = {"notice": {"code": "conversation.ended", "params": {"a": "x", "n": 3, "b": True}}}
    assert Notice.from_meta(meta) == Notice(NoticeCode.ENDED, {"a": "x", "n": 3})
    assert Notice.from_meta({"notice": {"code": "conversation.ended"}}) == notices.ended()
