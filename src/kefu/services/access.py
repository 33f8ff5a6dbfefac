"""Who may touch what (ACCT-3, ACCT-5, CONV-9): every shop-scoped row a use case acts on is
loaded here, checked for shop and role, and nothing fetches such a row any other way. A row of
another shop is NotFound, exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from kefu import errors
from kefu.domain.conversation import SPEAKING_ROLES
from kefu.domain.presence import SUPERVISING_ROLES, Role
from kefu.services.context import ConsumerActor, Staff
from kefu.storage import accounts as account_store
from kefu.storage import conversations as conversation_store
from kefu.storage import shops as shop_store
from kefu.storage.accounts import AccountRecord
from kefu.storage.conversations import ConversationRecord, EndingRecord
from kefu.storage.db import Connection
from kefu.storage.shops import GroupRecord


def require_owner(staff: Staff, **params: Any) -> None:
    """SET-1: shop settings, staff and the knowledge base are the main account's to change."""
    if staff.role is not Role.OWNER:
        raise errors.Forbidden(**params)


def require_supervising(staff: Staff) -> None:
    """CONV-9, PRES-2: owners, supervisors and group leaders watch and manage agents."""
    if staff.role not in SUPERVISING_ROLES:
        raise errors.Forbidden()


def supervises(staff: Staff, group_id: int | None) -> bool:
    """CONV-9: supervisors see the whole shop; a group leader only their own group."""
    if staff.role is Role.LEADER:
        return staff.group_id is not None and staff.group_id == group_id
    return staff.role in SUPERVISING_ROLES


async def access_conversation(
    conn: Connection,
    staff: Staff,
    conversation_id: int,
    *,
    speak: bool = False,
    for_update: bool = False,
) -> ConversationRecord:
    """ACCT-5 and CONV-9: same shop, and a participant, or a supervisor (leaders: own group).

    Speaking needs participation; supervisors join first (CONV-9). `for_update` locks the row
    until commit, for changes that must not race an end (which takes no shop lock).
    """
    row = await conversation_store.get(
        conn, staff.shop_id, conversation_id, for_update=for_update, participant=staff.account_id
    )
    return _may_touch(staff, row, speak=speak)


def may_end(staff: Staff, ending: EndingRecord | None, conversation_id: int) -> ConversationRecord:
    """`access_conversation` to speak, for a conversation read with `get_endings` (None: not
    found in the staff's shop); the row as the staff sees it."""
    if ending is None:
        raise errors.NotFound(kind="conversation", id=conversation_id)
    return _may_touch(staff, ending.as_seen_by(staff.account_id), speak=True)


def _may_touch(staff: Staff, row: ConversationRecord, *, speak: bool) -> ConversationRecord:
    if row.is_participant and (not speak or row.participant_role in SPEAKING_ROLES):
        return row
    if row.is_participant:  # CONV-7, CONV-8: a previous holder, or one who left, only reads
        raise errors.NotParticipant(role=row.participant_role)
    if not speak and supervises(staff, row.group_id):
        return row
    raise errors.NotParticipant()


async def access_own_conversation(
    conn: Connection, consumer: ConsumerActor, conversation_id: int
) -> ConversationRecord:
    """ACCT-5: a consumer reaches only their own conversations in their shop."""
    row = await conversation_store.get(conn, consumer.shop_id, conversation_id)
    if row.consumer_id != consumer.consumer_id:
        raise errors.NotFound(kind="conversation", id=conversation_id)
    return row


async def access_account(conn: Connection, staff: Staff, account_id: int) -> AccountRecord:
    """ACCT-5: an account of the caller's shop."""
    found = await account_store.shop_account(conn, staff.shop_id, account_id)
    if found is None:
        raise errors.NotFound(kind="account", id=account_id)
    return found


async def access_group(conn: Connection, staff: Staff, group_id: int) -> GroupRecord:
    """ACCT-5: a group of the caller's shop."""
    found = await shop_store.shop_group(conn, staff.shop_id, group_id)
    if found is None:
        raise errors.NotFound(kind="group", id=group_id)
    return found
