"""Knowledge-base files (BOT-2): parse CSV or JSON into checked rows, each rejected row with its
line number and a reason code, and write the same two formats back. Pure: bytes in, rows out;
no database. Reasons are stable codes (`answer.empty`, `question.too_long`, `duplicate`) that
front ends translate.

CSV: a header row naming `question` and `answer` (or 问题 / 答案), optionally `category` (分类),
`phrasings` (问法) and `related` (关联问题); several phrasings or related questions in one cell
are separated by `|` or line breaks. JSON: a list of objects with the same keys (or
`{"questions": [...]}`); `phrasings` and `related` are lists. `related` names questions by their
text, so a file moves between shops. For JSON the line is the object's position (1-based).
UTF-8 (with or without BOM) and GB18030, which spreadsheet programs in China save, are read."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kefu import errors
from kefu.bot.domain import QuestionDraft, check_category_name, check_question

_HEADERS = {
    "question": "question",
    "问题": "question",
    "answer": "answer",
    "答案": "answer",
    "category": "category",
    "分类": "category",
    "phrasings": "phrasings",
    "问法": "phrasings",
    "related": "related",
    "关联问题": "related",
}
_SPLIT = re.compile(r"\s*(?:\||\r?\n)\s*")
CSV_COLUMNS = ("category", "question", "answer", "phrasings", "related")


@dataclass(frozen=True, slots=True)
class KbRow:
    """One accepted entry of a file; `related` names other entries by their question."""

    line: int
    category: str | None
    draft: QuestionDraft
    related: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedFile:
    rows: list[KbRow]
    rejected: list[Rejected]


def detect_format(data: bytes, filename: str | None = None) -> str:
    """`json` or `csv`, from the file name, else from the first non-blank character."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".txt")):
        return "csv"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "csv"


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise errors.BadInput("The file is neither UTF-8 nor GB18030 text.", field="file")


def parse(data: bytes, fmt: str | None = None, filename: str | None = None) -> ParsedFile:
    """BOT-2: the file's entries, each checked by the knowledge base's own rules."""
    fmt = fmt or detect_format(data, filename)
    text = decode(data)
    if "\x00" in text:
        raise errors.BadInput("The file contains NUL characters.", field="file")
    records = _json_records(text) if fmt == "json" else _csv_records(text)
    rows: list[KbRow] = []
    rejected: list[Rejected] = []
    seen: dict[str, int] = {}
    for line, record in records:
        if isinstance(record, Rejected):
            rejected.append(record)
            continue
        try:
            row = _row(line, record)
        except errors.BadInput as exc:
            rejected.append(Rejected(line, _reason(exc)))
            continue
        first = seen.get(row.draft.question)
        if first is not None:
            rejected.append(Rejected(line, "duplicate"))
            continue
        seen[row.draft.question] = line
        rows.append(row)
    return ParsedFile(rows, rejected)


def _reason(exc: errors.BadInput) -> str:
    field = str(exc.params.get("field", "row"))
    problem = exc.params.get("problem")
    return f"{field}.{problem}" if problem else field + ".invalid"


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise errors.BadInput("The CSV header cannot be read.", detail=str(exc)) from exc
    columns = [_HEADERS.get(h.strip().lower()) for h in header]
    if "question" not in columns or "answer" not in columns:
        raise errors.BadInput(
            "The CSV header must name the question and answer columns.",
            field="file",
            columns=list(CSV_COLUMNS),
        )
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield line, Rejected(line, "row.unreadable")
            line = reader.line_num + 1
            continue
        if any(c.strip() for c in cells):
            record: dict[str, Any] = {
                key: cell for key, cell in zip(columns, cells, strict=False) if key is not None
            }
            record["phrasings"] = _cells(record.get("phrasings", ""))
            record["related"] = _cells(record.get("related", ""))
            yield line, record
        line = reader.line_num + 1


def _cells(value: str) -> list[str]:
    return [p for p in _SPLIT.split(value.strip()) if p]


def _json_records(text: str) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise errors.BadInput("The file is not valid JSON.", field="file", detail=str(exc)) from exc
    if isinstance(data, dict):
        data = data.get("questions")
    if not isinstance(data, list):
        raise errors.BadInput("Expected a list of questions.", field="file")
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            yield index, Rejected(index, "row.not_an_object")
            continue
        yield index, item


def _row(line: int, record: dict[str, Any]) -> KbRow:
    question, answer = record.get("question"), record.get("answer")
    phrasings, related = record.get("phrasings") or [], record.get("related") or []
    category = record.get("category")
    if not isinstance(question, str):
        raise errors.BadInput(field="question", problem="empty")
    if not isinstance(answer, str):
        raise errors.BadInput(field="answer", problem="empty")
    if not _strings(phrasings):
        raise errors.BadInput(field="phrasings", problem="invalid")
    if not _strings(related):
        raise errors.BadInput(field="related", problem="invalid")
    if category is not None and not isinstance(category, str):
        raise errors.BadInput(field="category", problem="invalid")
    draft = check_question(QuestionDraft(question, answer, tuple(phrasings)))
    if len(related) > 5:
        raise errors.BadInput(field="related_ids", problem="too_many")
    name = check_category_name(category) if category and category.strip() else None
    return KbRow(line, name, draft, tuple(r.strip() for r in related if r.strip()))


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@dataclass(frozen=True, slots=True)
class ExportEntry:
    category: str | None
    question: str
    answer: str
    phrasings: Sequence[str]
    related: Sequence[str]


def dump(entries: Iterable[ExportEntry], fmt: str) -> bytes:
    """The knowledge base as a file that `parse` reads back to the same entries."""
    items = list(entries)
    if fmt == "json":
        return orjson.dumps(
            {
                "questions": [
                    {
                        "category": e.category,
                        "question": e.question,
                        "answer": e.answer,
                        "phrasings": list(e.phrasings),
                        "related": list(e.related),
                    }
                    for e in items
                ]
            },
            option=orjson.OPT_INDENT_2,
        )
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in items:
        writer.writerow(
            [e.category or "", e.question, e.answer, "|".join(e.phrasings), "|".join(e.related)]
        )
    # With a BOM, spreadsheet programs open the Chinese text as UTF-8.
    return ("\ufeff" + out.getvalue()).encode()
