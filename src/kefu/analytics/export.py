"""DATA-8: any analytics table as CSV. A cell that a spreadsheet would read as a formula
(starting with =, +, -, @, a tab or a carriage return) is neutralised with a leading quote."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """A cell as text; None is empty, and a formula-looking text gets a leading apostrophe.
    Numbers are written as they are (a negative number is data, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(round(value, 6)) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """A header row of `columns`, then each row's values in that order; with a BOM so that
    spreadsheet programs read the Chinese names as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow([neutralise(row.get(c)) for c in columns])
    return "\ufeff" + out.getvalue()
