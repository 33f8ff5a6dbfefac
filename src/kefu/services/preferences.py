"""Each account's own notification preferences (SET-3). An account reads and writes only its
own; nobody else's preferences are reachable, so no role check is needed."""

from __future__ import annotations

from collections.abc import Iterable

from kefu.domain.notifications import NotificationPreferences, NotifyEvent
from kefu.services.context import Context, Staff
from kefu.storage import preferences as store


async def notification_preferences(ctx: Context, staff: Staff) -> NotificationPreferences:
    """SET-3: the caller's preferences, the defaults when never set."""
    async with ctx.db.read() as tx:
        return await store.notification_preferences(tx.conn, staff.shop_id, staff.account_id)


async def set_notification_preferences(
    ctx: Context,
    staff: Staff,
    *,
    is_sound_on: bool,
    is_desktop_on: bool,
    events: Iterable[NotifyEvent],
) -> NotificationPreferences:
    """SET-3: replaces the caller's preferences as a whole."""
    prefs = NotificationPreferences(
        is_sound_on=is_sound_on, is_desktop_on=is_desktop_on, events=frozenset(events)
    )
    async with ctx.db.uow() as tx:
        await store.save_notification_preferences(tx.conn, staff.shop_id, staff.account_id, prefs)
        await tx.commit()
    return prefs
