"""The shop's blacklist (ROUTE-5, DESK-7): any account that may see a conversation adds its
consumer from it, with a reason; blacklisted consumers skip routing and go to offline
messages. Owners and supervisors list and remove entries (group leaders and agents do not:
lifting a block is a shop-wide decision)."""

from __future__ import annotations

from dataclasses import dataclass

from kefu import errors
from kefu.domain.presence import Role
from kefu.offline import domain
from kefu.services import audit
from kefu.services.access import access_conversation
from kefu.services.context import Context, Staff
from kefu.storage import offline as store
from kefu.storage.db import Connection
from kefu.storage.offline import BlacklistRecord

MANAGING_ROLES = frozenset({Role.OWNER, Role.SUPERVISOR})


def require_managing(staff: Staff) -> None:
    """ROUTE-5: the owner and supervisors manage the blacklist."""
    if staff.role not in MANAGING_ROLES:
        raise errors.Forbidden()


async def add_from_conversation(
    ctx: Context, staff: Staff, conversation_id: int, *, reason: str
) -> BlacklistRecord:
    """DESK-7: put the conversation's consumer on the blacklist (again: the new reason)."""
    try:
        reason = domain.check_reason(reason)
    except ValueError as exc:
        raise errors.BadInput(str(exc), field="reason") from exc
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conv = await access_conversation(tx.conn, staff, conversation_id)
        entry_id = await store.blacklist_add(
            tx.conn,
            shop_id=staff.shop_id,
            consumer_id=conv.consumer_id,
            reason=reason,
            by=staff.account_id,
            now=now,
        )
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="blacklist.add",
            target=("consumer", conv.consumer_id),
            at=now,
            reason=reason,
        )
        found = await access_entry(tx.conn, staff, entry_id, check_role=False)
        await tx.commit()
    return found


@dataclass(frozen=True, slots=True)
class BlacklistPage:
    items: list[BlacklistRecord]
    total: int


async def list_entries(ctx: Context, staff: Staff, *, page: int, page_size: int) -> BlacklistPage:
    require_managing(staff)
    async with ctx.db.read() as tx:
        items, total = await store.blacklist_page(
            tx.conn, staff.shop_id, limit=page_size, offset=(page - 1) * page_size
        )
    return BlacklistPage(items, total)


async def remove(ctx: Context, staff: Staff, entry_id: int) -> None:
    """ROUTE-5: the consumer is routed again from their next human request."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        found = await access_entry(tx.conn, staff, entry_id)
        await store.blacklist_remove(tx.conn, staff.shop_id, entry_id)
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="blacklist.remove",
            target=("consumer", found.consumer_id),
            at=now,
        )
        await tx.commit()


async def access_entry(
    conn: Connection, staff: Staff, entry_id: int, *, check_role: bool = True
) -> BlacklistRecord:
    """ACCT-5: an entry of the caller's shop, for its managers."""
    if check_role:
        require_managing(staff)
    found = await store.blacklist_entry(conn, staff.shop_id, entry_id)
    if found is None:
        raise errors.NotFound(kind="blacklist_entry", id=entry_id)
    return found
