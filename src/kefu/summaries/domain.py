"""The rules of consultation summaries (CONV-10, DESK-2), pure: the shape of a shop's
classification tree (at most 5 levels), which node a summary may name (a leaf), and which
conversations wait for one. Stdlib and kefu.errors only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from kefu import errors

MAX_DEPTH = 5
MAX_NODES = 500
MAX_NAME_CHARS = 30
MAX_NOTE_CHARS = 500
# CONV-10: a new shop's tree; the owner edits it.
DEFAULT_TREE = ("售前", "售后", "投诉", "建议", "其他")


@dataclass(frozen=True, slots=True)
class NodeDraft:
    """One node of a tree the owner saves; `id` None for a new node."""

    name: str
    id: int | None = None
    children: tuple[NodeDraft, ...] = ()


@dataclass(frozen=True, slots=True)
class FlatNode:
    """A node as the owner's client sends it: its own key and its parent's (None at the
    top), the stored id of a kept node; siblings keep the list's order."""

    key: str
    parent_key: str | None
    name: str
    id: int | None = None


def nest(flat: Sequence[FlatNode]) -> list[NodeDraft]:
    """The flat list as a tree; a repeated key, an unknown parent or a cycle is bad_input."""
    keys = [n.key for n in flat]
    if len(set(keys)) != len(keys):
        raise errors.BadInput("A key appears twice in the tree.", field="key")
    children: dict[str | None, list[FlatNode]] = {}
    for node in flat:
        if node.parent_key is not None and node.parent_key not in keys:
            raise errors.BadInput("A node names an unknown parent.", field="parent_key")
        children.setdefault(node.parent_key, []).append(node)
    placed = 0

    # Each node has one parent, so a node on a cycle is never reached from the top: the
    # recursion ends, at most len(flat) (≤ MAX_NODES) deep.
    def build(parent: str | None) -> tuple[NodeDraft, ...]:
        nonlocal placed
        found = children.get(parent, [])
        placed += len(found)
        return tuple(NodeDraft(n.name, n.id, build(n.key)) for n in found)

    roots = list(build(None))
    if placed != len(flat):
        raise errors.BadInput("The tree's parents form a cycle.", field="parent_key")
    return roots


@dataclass(frozen=True, slots=True)
class Category:
    """A stored node: its parent (None at the top) and its place among its siblings."""

    id: int
    parent_id: int | None
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class CategoryNode:
    id: int
    name: str
    children: list[CategoryNode] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return not self.children


def check_tree(roots: Sequence[NodeDraft]) -> None:
    """CONV-10: up to MAX_DEPTH levels (a deeper node is refused with `summary.too_deep`),
    at most MAX_NODES nodes, each named 1 to MAX_NAME_CHARS characters, no id twice."""
    seen: set[int] = set()
    count = 0
    stack: list[tuple[NodeDraft, int]] = [(n, 1) for n in roots]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise errors.RuleViolation(
                f"A classification tree has at most {MAX_DEPTH} levels.",
                code="summary.too_deep",
                max_depth=MAX_DEPTH,
                name=node.name[:MAX_NAME_CHARS],
            )
        count += 1
        if count > MAX_NODES:
            raise errors.BadInput(
                f"A classification tree has at most {MAX_NODES} nodes.", max_nodes=MAX_NODES
            )
        _check_name(node.name)
        if node.id is not None:
            if node.id in seen:
                raise errors.BadInput("A node appears twice in the tree.", field="id", id=node.id)
            seen.add(node.id)
        stack.extend((child, depth + 1) for child in node.children)


def _check_name(name: str) -> None:
    stripped = name.strip()
    if not stripped or len(name) > MAX_NAME_CHARS or "\x00" in name:
        raise errors.BadInput(
            f"A category is named with 1 to {MAX_NAME_CHARS} characters.",
            field="name",
            max_chars=MAX_NAME_CHARS,
        )


def check_note(note: str) -> str:
    """CONV-10: an optional free-text note with the summary."""
    if len(note) > MAX_NOTE_CHARS or "\x00" in note:
        raise errors.BadInput(
            f"A note has at most {MAX_NOTE_CHARS} characters.",
            field="note",
            max_chars=MAX_NOTE_CHARS,
        )
    return note.strip()


def build_tree(categories: Iterable[Category]) -> list[CategoryNode]:
    """The stored nodes as a tree, siblings in their saved order."""
    ordered = sorted(categories, key=lambda c: (c.position, c.id))
    nodes = {c.id: CategoryNode(c.id, c.name) for c in ordered}
    roots: list[CategoryNode] = []
    for c in ordered:
        parent = nodes.get(c.parent_id) if c.parent_id is not None else None
        (parent.children if parent is not None else roots).append(nodes[c.id])
    return roots


def leaf_path(categories: Iterable[Category], category_id: int) -> list[str]:
    """CONV-10: the names from the top down to `category_id`, which must be a leaf of the
    tree; another node is refused with `summary.not_a_leaf`, an unknown one is not_found."""
    by_id: Mapping[int, Category] = {c.id: c for c in categories}
    if category_id not in by_id:
        raise errors.NotFound(kind="summary_category", id=category_id)
    if any(c.parent_id == category_id for c in by_id.values()):
        raise errors.RuleViolation(
            "Pick a category without subcategories.", code="summary.not_a_leaf", id=category_id
        )
    path: list[str] = []
    current: Category | None = by_id[category_id]
    while current is not None:
        path.append(current.name)
        current = by_id.get(current.parent_id) if current.parent_id is not None else None
    return path[::-1]


def needs_summary(*, assigned_at: datetime | None, summarised: bool) -> bool:
    """DESK-2, CONV-10: a conversation a human served (open or ended) waits for its summary."""
    return assigned_at is not None and not summarised


def check_may_end(*, summary_required: bool, summarised: bool) -> None:
    """CONV-10: a shop that requires a summary refuses to end a conversation without one."""
    if summary_required and not summarised:
        raise errors.RuleViolation(
            "Write the consultation summary before ending the conversation.",
            code="summary.required",
        )
