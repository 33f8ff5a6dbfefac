"""Permissions per feature area (ACCT-6): what a sub-account may open besides its role's
default, granted or revoked by the owner, or asked for by the sub-account and answered by the
owner. Pure: the stored grants come in as arguments."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from kefu import errors
from kefu.domain.presence import Role

MAX_NOTE = 200


class Feature(StrEnum):
    WORKBENCH = "workbench"
    MONITORING = "monitoring"
    ANALYTICS = "analytics"
    QUALITY = "quality"
    SETTINGS = "settings"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


ALL_FEATURES = frozenset(Feature)

# What each role has until the owner says otherwise. The owner always has everything; the
# shop's settings (SET-1) stay the owner's unless granted.
ROLE_DEFAULTS: Mapping[Role, frozenset[Feature]] = {
    Role.OWNER: ALL_FEATURES,
    Role.SUPERVISOR: frozenset(
        {Feature.WORKBENCH, Feature.MONITORING, Feature.ANALYTICS, Feature.QUALITY}
    ),
    # What a leader's role reaches for their own group: the agent analysis and inspection.
    Role.LEADER: frozenset(
        {Feature.WORKBENCH, Feature.MONITORING, Feature.ANALYTICS, Feature.QUALITY}
    ),
    Role.AGENT: frozenset({Feature.WORKBENCH}),
}


def effective(role: Role, grants: Mapping[Feature, bool]) -> frozenset[Feature]:
    """The role's defaults with the owner's grants (True) and revocations (False) applied."""
    if role is Role.OWNER:
        return ALL_FEATURES
    granted = {f for f, on in grants.items() if on}
    revoked = {f for f, on in grants.items() if not on}
    return frozenset((ROLE_DEFAULTS[role] | granted) - revoked)


def grants_for(role: Role, wanted: frozenset[Feature]) -> dict[Feature, bool]:
    """The grants to store so that `role` ends up with exactly `wanted`: only the differences
    from the role's defaults, so a later change of defaults reaches untouched accounts."""
    defaults = ROLE_DEFAULTS[role]
    return {f: f in wanted for f in Feature if (f in wanted) != (f in defaults)}


def check_may_change(role: Role) -> None:
    if role is Role.OWNER:
        raise errors.RuleViolation(
            "The main account always has every feature.", code="permission.owner_has_all"
        )


def check_request(has: frozenset[Feature], feature: Feature, *, pending: bool) -> None:
    """ACCT-6: a request for a feature one lacks, and only one open request per feature."""
    if feature in has:
        raise errors.Conflict(
            "You already have this feature.", code="permission.already_granted", feature=feature
        )
    if pending:
        raise errors.Conflict(
            "Your request for this feature is waiting for the owner.",
            code="permission.already_requested",
            feature=feature,
        )


def check_note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE or any(ord(c) < 32 and c not in "\n\t" for c in note):
        raise errors.BadInput("The note is too long or has control characters.", field="note")
    return note
