"""Product and order files (API-1): CSV or JSON, UTF-8 (with or without BOM) or GBK, read as a
stream of rows, each validated on its own. Owns the file formats; must not touch the database.

A JSON file is an array of objects, read object by object; a CSV file has a header line naming
the fields, and an order's `items` cell holds its lines as a JSON array."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import IO, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from kefu import errors
from kefu.catalog.domain import Order, OrderItem, OrderStatus, Product, RejectParams

FileFormat = Literal["csv", "json"]
Kind = Literal["products", "orders"]
_SNIFF_BYTES = 64 * 1024
_READ_CHARS = 64 * 1024
# A single JSON row larger than this is refused rather than buffered without end.
MAX_ROW_CHARS = 1024 * 1024
MAX_ORDER_ITEMS = 200
MAX_PRICE = Decimal("100000000")


def _link(value: str) -> str:
    """An absolute http(s) address or a path of the shop's site: never `javascript:` or a
    `//host/` one, which the workbench would follow elsewhere."""
    if value == "" or (value.startswith("/") and not value.startswith("//")):
        return value
    scheme, sep, rest = value.partition("://")
    if sep and scheme.lower() in ("http", "https") and rest and not rest.startswith("/"):
        return value
    raise PydanticCustomError("link", "must be an http(s) address or a path starting with /")


def _money(value: Decimal) -> str:
    if value < 0 or value >= MAX_PRICE:
        raise PydanticCustomError(
            "money_range", "must be between 0 and {max}", {"max": str(MAX_PRICE)}
        )
    if -value.as_tuple().exponent > 2:  # type: ignore[operator]
        raise PydanticCustomError("decimals", "at most {max} decimal places", {"max": 2})
    return f"{value:.2f}"


def _json_cell(value: Any) -> Any:
    """A CSV cell holding JSON (an order's items); an empty one is no items."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else []
        except ValueError:
            raise PydanticCustomError("json", "is not valid JSON") from None
    return value


Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Link = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_link)
]
Money = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_money)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductRow(_Row):
    external_id: Key
    title: Title
    price: Money
    image: Link = ""
    url: Link = ""
    stock: Annotated[int, Field(ge=0, le=10**9)] = 0
    on_sale: bool = True

    def product(self) -> Product:
        return Product(
            self.external_id, self.title, str(self.price), self.image, self.url,
            self.stock, self.on_sale,
        )  # fmt: skip


class ItemRow(_Row):
    external_id: Annotated[str, StringConstraints(max_length=64)] = ""
    title: Title
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1
    price: Money = Decimal("0.00")


class OrderRow(_Row):
    order_no: Key
    consumer_uid: Key
    amount: Money
    ordered_at: AwareDatetime
    items: Annotated[
        list[ItemRow], BeforeValidator(_json_cell), Field(max_length=MAX_ORDER_ITEMS)
    ] = []
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    status: OrderStatus = OrderStatus.PAID
    paid_at: AwareDatetime | None = None
    shipped_at: AwareDatetime | None = None
    received_at: AwareDatetime | None = None

    def order(self) -> Order:
        items = tuple(
            OrderItem(i.external_id, i.title, i.quantity, str(i.price)) for i in self.items
        )
        return Order(
            self.order_no, self.consumer_uid, str(self.amount), self.ordered_at, items,
            self.status, self.paid_at, self.shipped_at, self.received_at, self.title,
        )  # fmt: skip


ROW_MODELS: dict[Kind, type[ProductRow] | type[OrderRow]] = {
    "products": ProductRow,
    "orders": OrderRow,
}


class RowRejected(Exception):
    """A row that is not valid: a stable `code` and its `params` (API-1), translated by the
    clients (web locales, the CLI's table in catalog/cli.py)."""

    def __init__(self, code: str, **params: str | int) -> None:
        super().__init__(code)
        self.code = code
        self.params: RejectParams = params


def parse_row(kind: Kind, data: object) -> Product | Order:
    """One row as the domain's value; RowRejected with the first problem's code otherwise
    (also when `data` is the reader's RowRejected for a row it could not split)."""
    if isinstance(data, RowRejected):
        raise data
    if not isinstance(data, dict):
        raise RowRejected("row.not_an_object")
    if _has_nul(data):
        raise RowRejected("row.nul")
    # An empty CSV cell means "not given": the field's default applies, or it is missing.
    given = {k: v for k, v in data.items() if not (isinstance(v, str) and v.strip() == "")}
    try:
        row = ROW_MODELS[kind].model_validate(given)
    except ValidationError as exc:
        code, params = rejection(exc)
        raise RowRejected(code, **params) from None
    return row.product() if isinstance(row, ProductRow) else row.order()


def _has_nul(value: object) -> bool:
    """PostgreSQL text cannot hold NUL: such a row is refused, not sent to the database."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# pydantic's error types → the stable codes of a rejected row's field (docs/protocol.md).
_FIELD_CODES: dict[str, str] = {
    "missing": "field.missing",
    "extra_forbidden": "field.unknown",
    "string_too_short": "field.empty",
    "string_too_long": "field.too_long",
    "string_type": "field.not_text",
    "int_parsing": "field.not_integer",
    "int_type": "field.not_integer",
    "int_from_float": "field.not_integer",
    "greater_than_equal": "field.out_of_range",
    "less_than_equal": "field.out_of_range",
    "decimal_parsing": "field.not_number",
    "decimal_type": "field.not_number",
    "finite_number": "field.not_number",
    "money_range": "field.out_of_range",
    "decimals": "field.decimals",
    "bool_parsing": "field.not_boolean",
    "bool_type": "field.not_boolean",
    "datetime_parsing": "field.not_datetime",
    "datetime_type": "field.not_datetime",
    "datetime_from_date_parsing": "field.not_datetime",
    "timezone_aware": "field.no_timezone",
    "enum": "field.not_a_choice",
    "link": "field.link",
    "json": "field.not_json",
    "list_type": "field.not_a_list",
    "too_long": "field.too_many",
    "model_type": "field.not_an_object",
    "model_attributes_type": "field.not_an_object",
    "dict_type": "field.not_an_object",
}
# The limits pydantic names in an error's context, under the names the codes' params use.
_LIMITS = {"min_length": "min", "max_length": "max", "ge": "min", "le": "max", "max": "max"}


def rejection(exc: ValidationError) -> tuple[str, RejectParams]:
    """The first problem of a row as (code, params): `params.field` is the field's path
    (`items.0.price`), with `min`/`max`/`choices` where the rule has them."""
    error = exc.errors(include_url=False)[0]
    params: RejectParams = {"field": ".".join(str(x) for x in error["loc"]) or "row"}
    context = error.get("ctx") or {}
    for name, param in _LIMITS.items():
        if name in context:
            params[param] = _plain(context[name])
    if error["type"] == "enum":
        params["choices"] = ", ".join(s.value for s in OrderStatus)
    return _FIELD_CODES.get(error["type"], "field.invalid"), params


def _plain(value: object) -> str | int:
    return value if isinstance(value, int) and not isinstance(value, bool) else str(value)


def file_format(declared: str | None, filename: str | None) -> FileFormat:
    """csv or json: as declared, or from the file name's extension."""
    name = (declared or (filename or "").rsplit(".", 1)[-1]).lower()
    if name in ("csv", "json"):
        return name  # type: ignore[return-value]
    raise errors.BadInput("The file must be CSV or JSON.", field="format")


def open_text(raw: IO[bytes]) -> io.TextIOWrapper:
    """The file as text: UTF-8 (a BOM is dropped) when its start decodes as UTF-8, else GBK
    (read as GB18030, its superset). `raw` must be seekable."""
    head = raw.read(_SNIFF_BYTES)
    raw.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "gb18030"
    return io.TextIOWrapper(raw, encoding=encoding, newline="")


def rows(kind: Kind, fmt: FileFormat, text: IO[str]) -> Iterator[tuple[int, object]]:
    """(line, raw row) for each row of the file, in order (a RowRejected for a CSV row that
    cannot be split into the header's cells); a file that cannot be read as a
    whole (no header, a JSON syntax error) raises BadInput with its line."""
    try:
        if fmt == "csv":
            yield from _csv_rows(kind, text)
        else:
            yield from _json_rows(text)
    except UnicodeDecodeError as exc:
        raise errors.BadInput("The file is neither UTF-8 nor GBK.", reason=str(exc)[:200]) from None


def _csv_rows(kind: Kind, text: IO[str]) -> Iterator[tuple[int, object]]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        raise errors.BadInput("The file is empty.", line=1)
    fields = [name.strip() for name in header]
    known = ROW_MODELS[kind].model_fields
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise errors.BadInput("Unknown columns.", line=1, columns=unknown[:10])
    line = reader.line_num
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(fields):
            yield start, RowRejected("row.cells", expected=len(fields), found=len(cells))
            continue
        yield start, dict(zip(fields, cells, strict=True))


def _json_rows(text: IO[str]) -> Iterator[tuple[int, object]]:
    """The objects of a top-level JSON array, decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    buffer, pos, line, done = "", 0, 1, False

    def more() -> bool:
        nonlocal buffer, pos, done
        chunk = "" if done else text.read(_READ_CHARS)
        done = done or chunk == ""
        buffer, pos = buffer[pos:] + chunk, 0
        return chunk != ""

    def skip_space() -> str:
        """The next significant character ("" at the end), counting lines."""
        nonlocal pos, line
        while True:
            while pos < len(buffer) and buffer[pos] in " \t\r\n\ufeff":
                line += buffer[pos] == "\n"
                pos += 1
            if pos < len(buffer) or not more():
                return buffer[pos] if pos < len(buffer) else ""

    def view() -> tuple[str, int]:
        return buffer, pos

    if skip_space() != "[":
        raise errors.BadInput("A JSON file must be an array of objects.", line=line)
    pos += 1
    state = "first"  # "first": a row or ]; "row": a row; "next": , or ]
    while True:
        char = skip_space()
        if char == "":
            raise errors.BadInput("The JSON array is not closed.", line=line)
        if char == "]" and state != "row":
            return
        if state == "next":
            if char != ",":
                raise errors.BadInput("Expected , or ] between rows.", line=line)
            pos += 1
            state = "row"
            continue
        value, end = _decode_one(decoder, line, more, view)
        start = line
        line += buffer.count("\n", pos, end)
        pos = end
        state = "next"
        yield start, value


def _decode_one(
    decoder: json.JSONDecoder,
    line: int,
    more: Callable[[], bool],
    view: Callable[[], tuple[str, int]],
) -> tuple[object, int]:
    while True:
        buffer, pos = view()
        try:
            value, end = decoder.raw_decode(buffer, pos)
        except json.JSONDecodeError as exc:
            if len(buffer) - pos > MAX_ROW_CHARS or not more():
                raise errors.BadInput(
                    "The JSON is malformed.", line=line + buffer.count("\n", pos, exc.pos)
                ) from None
            continue
        # A number at the buffer's end may continue in the next chunk.
        if end == len(buffer) and more():
            continue
        return value, end
