"""HTTP routes for the caller's own notification preferences (SET-3). Thin: validate, call a
service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import Out
from kefu.api.responses import JsonOut
from kefu.api.schemas import In
from kefu.domain.notifications import NotificationPreferences, NotifyEvent
from kefu.services import preferences
from kefu.services.context import Staff

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
# Literal, not the StrEnum: strict bodies refuse strings for enums (see schemas.In).
EventCode = Literal["new_conversation", "new_message", "transfer_request"]
Events = Annotated[list[EventCode], Field(max_length=len(NotifyEvent))]


class NotificationPreferencesIn(In):
    sound: bool
    desktop: bool
    events: Events


class NotificationPreferencesOut(Out):
    sound: bool = Field(description="Beep for the chosen events.")
    desktop: bool = Field(description="Show desktop notifications for the chosen events.")
    events: list[NotifyEvent] = Field(description="The events that beep or notify, sorted.")


def _shape(prefs: NotificationPreferences) -> dict[str, object]:
    return {
        "sound": prefs.is_sound_on,
        "desktop": prefs.is_desktop_on,
        "events": sorted(e.value for e in prefs.events),
    }


@router.get(
    "/me/notification-preferences",
    tags=["presence"],
    response_model=NotificationPreferencesOut,
    responses=refusals(401),
)
async def get_notification_preferences(staff: StaffDep, request: Request) -> JsonOut:
    """SET-3: the caller's own preferences (all on until changed)."""
    return JsonOut(_shape(await preferences.notification_preferences(ctx_of(request), staff)))


@router.put(
    "/me/notification-preferences",
    tags=["presence"],
    response_model=NotificationPreferencesOut,
    responses=refusals(401, 403, 422),
)
async def put_notification_preferences(
    body: NotificationPreferencesIn, staff: StaffDep, request: Request
) -> JsonOut:
    """SET-3: replaces the caller's own preferences."""
    prefs = await preferences.set_notification_preferences(
        ctx_of(request),
        staff,
        is_sound_on=body.sound,
        is_desktop_on=body.desktop,
        events=[NotifyEvent(code) for code in body.events],
    )
    return JsonOut(_shape(prefs))
