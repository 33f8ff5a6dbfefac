"""Chat quality inspection rules (QA-1), pure: transcripts in, rule hits out. Built-in rules
(opening greeting, closing phrase, re-greeting after a silence, forbidden words, slow first
response, unanswered consumer message) and the owner's custom rules (keywords, regular
expressions, reply timing), each enabled per group, positive or negative. Rule changes are
versions that apply from a day (the next one in the shop's time zone); an inspection of a
conversation of day D uses the version in force on D.

Regular expressions run on RE2, which matches in time linear in the text, so no pattern can
hang an inspection; a pattern is checked when it is saved (`quality.pattern_invalid`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import re2

from kefu import errors

MAX_RULES = 50
MAX_CUSTOM_RULES = 40
MAX_PHRASES = 50
MAX_PHRASE_CHARS = 50
MAX_PATTERN_CHARS = 200
MAX_NAME_CHARS = 40
MAX_WITHIN_S = 86_400
MAX_GROUPS_PER_RULE = 100
# RE2's memory bound for one compiled pattern: a pattern over it is refused at save.
PATTERN_MAX_MEM = 1 << 20


class RuleKind(StrEnum):
    GREETING = "greeting"
    CLOSING = "closing"
    REGREETING = "regreeting"
    FORBIDDEN_WORDS = "forbidden_words"
    SLOW_FIRST_RESPONSE = "slow_first_response"
    UNANSWERED = "unanswered"
    KEYWORDS = "keywords"
    REGEX = "regex"
    TIMING = "timing"


BUILT_IN_KINDS = (
    RuleKind.GREETING,
    RuleKind.CLOSING,
    RuleKind.REGREETING,
    RuleKind.FORBIDDEN_WORDS,
    RuleKind.SLOW_FIRST_RESPONSE,
    RuleKind.UNANSWERED,
)
CUSTOM_KINDS = (RuleKind.KEYWORDS, RuleKind.REGEX, RuleKind.TIMING)


class Polarity(StrEnum):
    """A negative rule's hit is a fault; a positive rule's hit is good service."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


class Speaker(StrEnum):
    CONSUMER = "consumer"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule. `key` is the built-in kind's name or the custom rule's own key (`c1`…);
    `group_ids` empty means every group."""

    key: str
    kind: RuleKind
    polarity: Polarity = Polarity.NEGATIVE
    is_enabled: bool = True
    group_ids: frozenset[int] = frozenset()
    within_s: int = 0
    phrases: tuple[str, ...] = ()
    pattern: str = ""
    speaker: Speaker = Speaker.AGENT
    name: str = ""

    def applies_to(self, group_id: int | None) -> bool:
        return self.is_enabled and (not self.group_ids or group_id in self.group_ids)


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("greeting", RuleKind.GREETING, within_s=30, phrases=("您好", "你好", "亲", "欢迎")),
    Rule("closing", RuleKind.CLOSING, phrases=("感谢", "谢谢", "再见", "祝您", "欢迎下次")),
    Rule("regreeting", RuleKind.REGREETING, within_s=600, phrases=("您好", "亲", "抱歉久等")),
    Rule("forbidden_words", RuleKind.FORBIDDEN_WORDS, phrases=("不知道", "滚", "笨", "爱买不买")),
    Rule("slow_first_response", RuleKind.SLOW_FIRST_RESPONSE, within_s=60),
    Rule("unanswered", RuleKind.UNANSWERED, within_s=300),
)


@dataclass(frozen=True, slots=True)
class RuleVersion:
    """The shop's rules from `applies_from` (a local day) until the next version."""

    applies_from: date
    rules: tuple[Rule, ...]


def rules_in_force(versions: Iterable[RuleVersion], day: date) -> tuple[Rule, ...]:
    """QA-1: the rules of the latest version applying on `day`; the defaults before any."""
    current: RuleVersion | None = None
    for version in versions:
        if version.applies_from <= day and (
            current is None or version.applies_from > current.applies_from
        ):
            current = version
    return current.rules if current is not None else DEFAULT_RULES


def next_applies_from(now: datetime, tz: ZoneInfo) -> date:
    """QA-1: a rule change saved at `now` takes effect from the next day in the shop's zone."""
    return now.astimezone(tz).date() + timedelta(days=1)


# --- checking rules as the owner saves them -------------------------------------------------


def compile_pattern(pattern: str) -> Any:
    """The RE2 program of `pattern`; `quality.pattern_invalid` when RE2 refuses it (syntax,
    back-references, look-around, or over the memory bound)."""
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise errors.BadInput(
            "The pattern is empty or too long.",
            code="quality.pattern_invalid",
            reason="length",
            max_chars=MAX_PATTERN_CHARS,
        )
    options = re2.Options()
    options.log_errors = False
    options.max_mem = PATTERN_MAX_MEM
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else b""
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise errors.BadInput(
            "The regular expression is not supported.",
            code="quality.pattern_invalid",
            reason=text[:200],
        ) from exc


def check_rules(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """QA-1: the owner's rule set, checked: every built-in once, unique keys, bounded sizes,
    phrases where the rule needs them and patterns RE2 accepts."""
    if len(rules) > MAX_RULES:
        raise errors.BadInput("Too many rules.", code="quality.too_many_rules", max=MAX_RULES)
    keys = [r.key for r in rules]
    if len(set(keys)) != len(keys):
        raise errors.BadInput("Two rules share a key.", code="quality.rule_invalid", reason="key")
    customs = [r for r in rules if r.kind in CUSTOM_KINDS]
    if len(customs) > MAX_CUSTOM_RULES:
        raise errors.BadInput(
            "Too many custom rules.", code="quality.too_many_rules", max=MAX_CUSTOM_RULES
        )
    checked = [_check_rule(r) for r in rules]
    present = {r.kind for r in checked if r.kind in BUILT_IN_KINDS}
    # A built-in left out keeps its defaults, disabled only when the owner says so.
    missing = [r for r in DEFAULT_RULES if r.kind not in present]
    return (*missing, *checked)


def _check_rule(rule: Rule) -> Rule:
    invalid = {"code": "quality.rule_invalid", "key": rule.key[:40]}
    if rule.kind in BUILT_IN_KINDS:
        if rule.key != rule.kind.value:
            raise errors.BadInput("A built-in rule keeps its key.", reason="key", **invalid)
        rule = replace(rule, polarity=Polarity.NEGATIVE, speaker=Speaker.AGENT, pattern="")
    elif not rule.key.startswith("c") or not rule.key[1:].isdigit() or len(rule.key) > 10:
        raise errors.BadInput("A custom rule's key is c and a number.", reason="key", **invalid)
    if not 0 <= rule.within_s <= MAX_WITHIN_S:
        raise errors.BadInput("The time is out of range.", reason="within_s", **invalid)
    if len(rule.name) > MAX_NAME_CHARS or len(rule.group_ids) > MAX_GROUPS_PER_RULE:
        raise errors.BadInput("The rule is too large.", reason="size", **invalid)
    phrases = tuple(dict.fromkeys(p.strip() for p in rule.phrases if p.strip()))
    if len(phrases) > MAX_PHRASES or any(len(p) > MAX_PHRASE_CHARS for p in phrases):
        raise errors.BadInput("Too many or too long phrases.", reason="phrases", **invalid)
    if rule.kind in _NEEDS_PHRASES and not phrases and rule.is_enabled:
        raise errors.BadInput("The rule needs phrases.", reason="phrases", **invalid)
    if rule.kind in _NEEDS_TIME and rule.within_s <= 0:
        raise errors.BadInput("The rule needs a time.", reason="within_s", **invalid)
    if rule.kind is RuleKind.REGEX:
        compile_pattern(rule.pattern)
    elif rule.pattern:
        raise errors.BadInput("Only a regex rule has a pattern.", reason="pattern", **invalid)
    if not rule.name and rule.kind in CUSTOM_KINDS:
        raise errors.BadInput("A custom rule needs a name.", reason="name", **invalid)
    return replace(rule, phrases=phrases)


_NEEDS_PHRASES = frozenset(
    {
        RuleKind.GREETING,
        RuleKind.CLOSING,
        RuleKind.REGREETING,
        RuleKind.FORBIDDEN_WORDS,
        RuleKind.KEYWORDS,
    }
)
_NEEDS_TIME = frozenset(
    {
        RuleKind.GREETING,
        RuleKind.REGREETING,
        RuleKind.SLOW_FIRST_RESPONSE,
        RuleKind.UNANSWERED,
        RuleKind.TIMING,
    }
)


# --- inspecting transcripts -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One message of a consumer or an agent (bot and system messages are not inspected)."""

    seq: int
    speaker: Speaker
    at: datetime
    text: str
    agent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A conversation as the inspection sees it. `until` is when it ended (or the time of the
    inspection while it is open): a wait running past it is not yet a fault."""

    conversation_id: int
    group_id: int | None
    agent_id: int
    assigned_at: datetime
    until: datetime
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule met in a conversation, at the message `seq` (None: at the assignment itself)."""

    conversation_id: int
    rule_key: str
    polarity: Polarity
    agent_id: int
    seq: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Rules ready to run: regex programs compiled once for many transcripts."""

    rules: tuple[Rule, ...]
    programs: Mapping[str, Any] = field(default_factory=dict)


def prepare(rules: Iterable[Rule]) -> RuleSet:
    """The enabled rules with their patterns compiled (each checked when it was saved)."""
    enabled = tuple(r for r in rules if r.is_enabled)
    programs = {r.key: compile_pattern(r.pattern) for r in enabled if r.kind is RuleKind.REGEX}
    return RuleSet(enabled, programs)


def inspect(transcript: Transcript, rule_set: RuleSet) -> list[Hit]:
    """QA-1: every hit of the rules enabled for the transcript's group, in rule order."""
    lines = [x for x in transcript.lines if x.at >= transcript.assigned_at]
    hits: list[Hit] = []
    for rule in rule_set.rules:
        if not rule.applies_to(transcript.group_id):
            continue
        check = _CHECKS[rule.kind]
        for seq, at, agent_id in check(transcript, lines, rule, rule_set):
            hits.append(
                Hit(
                    transcript.conversation_id,
                    rule.key,
                    rule.polarity,
                    agent_id or transcript.agent_id,
                    seq,
                    at,
                )
            )
    return hits


# A check yields (seq, at, agent_id) for each hit; agent_id None is the conversation's agent.
Found = tuple[int | None, datetime, int | None]


def _greeting(t: Transcript, lines: list[Line], rule: Rule, _s: RuleSet) -> list[Found]:
    deadline = t.assigned_at + timedelta(seconds=rule.within_s)
    agent_lines = [x for x in lines if x.speaker is Speaker.AGENT and x.at <= deadline]
    if any(_contains(x.text, rule.phrases) for x in agent_lines):
        return []
    if t.until < deadline and not agent_lines:
        return []  # still within its time
    first = next((x for x in lines if x.speaker is Speaker.AGENT), None)
    if first is None:
        return [(None, t.assigned_at, None)]
    return [(first.seq, first.at, first.agent_id)]


def _closing(t: Transcript, lines: list[Line], rule: Rule, _s: RuleSet) -> list[Found]:
    last = next((x for x in reversed(lines) if x.speaker is Speaker.AGENT), None)
    if last is None or _contains(last.text, rule.phrases):
        return []
    return [(last.seq, last.at, last.agent_id)]


def _regreeting(_t: Transcript, lines: list[Line], rule: Rule, _s: RuleSet) -> list[Found]:
    silence = timedelta(seconds=rule.within_s)
    found: list[Found] = []
    waiting = False
    for before, line in pairwise(lines):
        if line.at - before.at >= silence:
            waiting = True
        if waiting and line.speaker is Speaker.AGENT:
            waiting = False
            if not _contains(line.text, rule.phrases):
                found.append((line.seq, line.at, line.agent_id))
    return found


def _forbidden(_t: Transcript, lines: list[Line], rule: Rule, _s: RuleSet) -> list[Found]:
    return [
        (x.seq, x.at, x.agent_id)
        for x in lines
        if x.speaker is Speaker.AGENT and _contains(x.text, rule.phrases)
    ]


def _slow_first(t: Transcript, lines: list[Line], rule: Rule, _s: RuleSet) -> list[Found]:
    deadline = t.assigned_at + timedelta(seconds=rule.within_s)
    first = next((x for x in lines if x.speaker is Speaker.AGENT), None)
    if first is not None:
        return [(first.seq, first.at, first.agent_id)] if first.at > deadline else []
    return [(None, t.assigned_at, None)] if t.until > deadline else []


def _unanswered(t: Transcript, lines: list[Line], rule: Rule, _s: RuleSet) -> list[Found]:
    """A run of consumer messages that no agent message follows within the time."""
    within = timedelta(seconds=rule.within_s)
    found: list[Found] = []
    for start, reply in _consumer_runs(lines):
        if reply is None and t.until - start.at >= within:
            found.append((start.seq, start.at, None))
    return found


def _keywords(_t: Transcript, lines: list[Line], rule: Rule, _s: RuleSet) -> list[Found]:
    return [
        (x.seq, x.at, x.agent_id)
        for x in lines
        if x.speaker is rule.speaker and _contains(x.text, rule.phrases)
    ]


def _regex(_t: Transcript, lines: list[Line], rule: Rule, rule_set: RuleSet) -> list[Found]:
    program = rule_set.programs[rule.key]
    return [
        (x.seq, x.at, x.agent_id)
        for x in lines
        if x.speaker is rule.speaker and program.search(x.text) is not None
    ]


def _timing(_t: Transcript, lines: list[Line], rule: Rule, _s: RuleSet) -> list[Found]:
    """Each agent reply that came later than the time after the consumer's first message."""
    within = timedelta(seconds=rule.within_s)
    return [
        (reply.seq, reply.at, reply.agent_id)
        for start, reply in _consumer_runs(lines)
        if reply is not None and reply.at - start.at > within
    ]


def _consumer_runs(lines: Sequence[Line]) -> list[tuple[Line, Line | None]]:
    """Each run of consumer messages (its first) with the agent message that follows it."""
    runs: list[tuple[Line, Line | None]] = []
    start: Line | None = None
    for line in lines:
        if line.speaker is Speaker.CONSUMER:
            start = start or line
        elif start is not None:
            runs.append((start, line))
            start = None
    if start is not None:
        runs.append((start, None))
    return runs


def _contains(text: str, phrases: Sequence[str]) -> bool:
    return any(p in text for p in phrases)


_CHECKS = {
    RuleKind.GREETING: _greeting,
    RuleKind.CLOSING: _closing,
    RuleKind.REGREETING: _regreeting,
    RuleKind.FORBIDDEN_WORDS: _forbidden,
    RuleKind.SLOW_FIRST_RESPONSE: _slow_first,
    RuleKind.UNANSWERED: _unanswered,
    RuleKind.KEYWORDS: _keywords,
    RuleKind.REGEX: _regex,
    RuleKind.TIMING: _timing,
}


# --- reports ----------------------------------------------------------------------------------


def count_hits(
    counts: Iterable[tuple[int, str, bool, int]],
) -> dict[int, dict[str, int]]:
    """QA-2: per agent, each rule's hits, leaving out those marked false positives (a rule
    whose hits all are stays, with 0). Takes (agent_id, rule_key, is_false_positive, count)."""
    per_agent: dict[int, dict[str, int]] = {}
    for agent_id, rule_key, is_false_positive, n in counts:
        per_rule = per_agent.setdefault(agent_id, {})
        per_rule[rule_key] = per_rule.get(rule_key, 0) + (0 if is_false_positive else n)
    return per_agent


# --- rules as stored (JSON) -------------------------------------------------------------------


def rule_to_json(rule: Rule) -> dict[str, Any]:
    return {
        "key": rule.key,
        "kind": rule.kind.value,
        "polarity": rule.polarity.value,
        "is_enabled": rule.is_enabled,
        "group_ids": sorted(rule.group_ids),
        "within_s": rule.within_s,
        "phrases": list(rule.phrases),
        "pattern": rule.pattern,
        "speaker": rule.speaker.value,
        "name": rule.name,
    }


def rule_from_json(data: Mapping[str, Any]) -> Rule:
    return Rule(
        key=str(data["key"]),
        kind=RuleKind(data["kind"]),
        polarity=Polarity(data.get("polarity", "negative")),
        is_enabled=bool(data.get("is_enabled", True)),
        group_ids=frozenset(int(g) for g in data.get("group_ids", ())),
        within_s=int(data.get("within_s", 0)),
        phrases=tuple(str(p) for p in data.get("phrases", ())),
        pattern=str(data.get("pattern", "")),
        speaker=Speaker(data.get("speaker", "agent")),
        name=str(data.get("name", "")),
    )
