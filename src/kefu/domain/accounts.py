"""What a new shop, group or account may be (ACCT-1, ACCT-2, PRES-2): names, passwords, roles,
statuses and reception limits. Pure; every refusal is a BadInput naming its field."""

from __future__ import annotations

from kefu import errors
from kefu.domain.presence import MAX_RECEPTION_LIMIT, MIN_RECEPTION_LIMIT, AgentStatus, Role

# The columns' widths: usernames, display, manager and group names; shop names; shop secrets.
MAX_NAME_CHARS = 50
MAX_SHOP_NAME_CHARS = 100
MAX_SECRET_CHARS = 128
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 200


def check_name(value: str, *, field: str, max_chars: int = MAX_NAME_CHARS) -> None:
    """A name is 1 to `max_chars` printable characters, not only spaces."""
    if not value.strip() or len(value) > max_chars or not value.isprintable():
        raise errors.BadInput(
            f"The {field} must be 1 to {max_chars} printable characters.",
            field=field,
            max=max_chars,
        )


def check_password(value: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(value) <= MAX_PASSWORD_CHARS:
        raise errors.BadInput(
            f"A password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters.",
            field="password",
            min=MIN_PASSWORD_CHARS,
            max=MAX_PASSWORD_CHARS,
        )


def check_secret(value: str) -> None:
    """The key a shop's own site signs consumer identities with."""
    if not value or len(value) > MAX_SECRET_CHARS:
        raise errors.BadInput(
            f"A shop secret has 1 to {MAX_SECRET_CHARS} characters.",
            field="secret",
            max=MAX_SECRET_CHARS,
        )


def check_reception_limit(
    limit: int, *, field: str = "limit", maximum: int = MAX_RECEPTION_LIMIT
) -> None:
    """PRES-2: 1 to 50 concurrent conversations, or fewer under the shop's maximum (PRES-4)."""
    if not MIN_RECEPTION_LIMIT <= limit <= maximum:
        raise errors.BadInput(
            f"The reception limit must be between {MIN_RECEPTION_LIMIT} and {maximum}.",
            field=field,
            min=MIN_RECEPTION_LIMIT,
            max=maximum,
        )


def parse_role(value: str) -> Role:
    """ACCT-2: owner, supervisor, leader or agent."""
    try:
        return Role(value)
    except ValueError:
        raise errors.BadInput(
            "Unknown role.", field="role", allowed=[r.value for r in Role]
        ) from None


def parse_status(value: str) -> AgentStatus:
    """PRES-1: online, busy, break or offline."""
    try:
        return AgentStatus(value)
    except ValueError:
        raise errors.BadInput(
            "Unknown status.", field="status", allowed=[s.value for s in AgentStatus]
        ) from None


def check_group_of_role(role: Role, has_group: bool) -> None:
    """The main account belongs to no group; a group leader leads one (CONV-9)."""
    if role is Role.OWNER and has_group:
        raise errors.BadInput("The main account belongs to no group.", field="group_id")
    if role is Role.LEADER and not has_group:
        raise errors.BadInput("A group leader needs a group.", field="group_id")
