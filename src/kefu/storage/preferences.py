"""Each account's notification preferences (SET-3). Queries only; the rules are in
domain/notifications.py."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.notifications import NotificationPreferences, decode_events, encode_events
from kefu.storage import tables as t


async def notification_preferences(
    conn: AsyncConnection, shop_id: int, account_id: int
) -> NotificationPreferences:
    """The account's stored choice, or the defaults when it never chose."""
    p = t.notification_preferences.c
    row = (
        await conn.execute(
            select(p.is_sound_on, p.is_desktop_on, p.events).where(
                p.account_id == account_id, p.shop_id == shop_id
            )
        )
    ).first()
    if row is None:
        return NotificationPreferences()
    return NotificationPreferences(
        is_sound_on=row.is_sound_on,
        is_desktop_on=row.is_desktop_on,
        events=decode_events(row.events),
    )


async def save_notification_preferences(
    conn: AsyncConnection, shop_id: int, account_id: int, prefs: NotificationPreferences
) -> None:
    """Replaces the account's row (delete + insert: the same statements on both engines)."""
    table = t.notification_preferences
    await conn.execute(delete(table).where(table.c.account_id == account_id))
    await conn.execute(
        insert(table).values(
            account_id=account_id,
            shop_id=shop_id,
            is_sound_on=prefs.is_sound_on,
            is_desktop_on=prefs.is_desktop_on,
            events=encode_events(prefs.events),
        )
    )
