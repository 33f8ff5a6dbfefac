"""One error hierarchy for every refusal: a stable dotted code, a message and params.

Nothing here knows about HTTP or WebSocket; api/errors.py maps these classes to both.
"""

from __future__ import annotations

from typing import Any, ClassVar


class KefuError(Exception):
    code: ClassVar[str] = "error"
    default_message: ClassVar[str] = "Request refused."

    def __init__(self, message: str | None = None, *, code: str | None = None, **params: Any):
        self.message = message or self.default_message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.params: dict[str, Any] = params
        super().__init__(self.message)


class BadInput(KefuError):
    code = "bad_input"
    default_message = "The request is malformed."


class PayloadTooLarge(KefuError):
    """A request body over the process's bound (KEFU_HTTP_MAX_BODY_BYTES), refused unread."""

    code = "too_large"
    default_message = "The request body is too large."


class Unauthenticated(KefuError):
    code = "auth.required"
    default_message = "Sign in first."


class InvalidCredentials(KefuError):
    code = "auth.invalid_credentials"
    default_message = "Wrong shop, username or password."


class Throttled(KefuError):
    code = "auth.throttled"
    default_message = "Too many attempts; try again later."


class AccountDisabled(KefuError):
    """The password was right, but the owner has disabled the account (ACCT-1)."""

    code = "account.disabled"
    default_message = "This account is disabled; ask the shop's owner."


class RateLimited(KefuError):
    """Over one of the rate limits (KEFU_RATE_*); `retry_after` (whole seconds, at least 1)
    says when the next attempt is let through."""

    code = "rate_limited"
    default_message = "Too many requests; try again later."


class NotFound(KefuError):
    """Missing, or belonging to another shop: the two are indistinguishable (ACCT-5)."""

    code = "not_found"
    default_message = "Not found."


class Forbidden(KefuError):
    code = "forbidden"
    default_message = "Your role may not do this."


class Conflict(KefuError):
    code = "conflict"
    default_message = "The request conflicts with the current state."


class AlreadyLoggedIn(Conflict):
    code = "account.already_logged_in"
    default_message = "This account is already logged in; take over the session to continue."


class ClientIdReused(Conflict):
    code = "client_id_reused"
    default_message = "This client message id was already used for different content."


class RuleViolation(KefuError):
    code = "rule_violation"
    default_message = "The request breaks a business rule."


class ReplyWindowClosed(RuleViolation):
    code = "reply_window_closed"
    default_message = "The reply window for this conversation has closed."


class ContinuationWindowClosed(RuleViolation):
    code = "continuation_window_closed"
    default_message = "An ended conversation can be continued for 72 hours only."


class NotParticipant(Forbidden):
    code = "not_participant"
    default_message = "You are not a participant of this conversation."


class AgentUnavailable(RuleViolation):
    code = "agent_unavailable"
    default_message = "That agent cannot take the conversation now."


class ConversationClosed(RuleViolation):
    code = "conversation_closed"
    default_message = "The conversation has ended."


class Unavailable(KefuError):
    code = "unavailable"
    default_message = "Temporarily unavailable."


class NoAgentAvailable(Unavailable):
    code = "no_agent_available"
    default_message = "No agent is available; try again later."


class StorageUnavailable(Unavailable):
    """The database is unreachable, timed out, dropped the connection or is out of space
    (storage/outage.py). The request may be resent as it was: a message whose commit went
    through after all is answered with its original ack (MSG-2). `cause` is `connection`,
    `timeout`, `busy` or `full`; `retry_after_s` is also the HTTP `Retry-After` header."""

    code = "unavailable"
    default_message = "The database is temporarily unavailable; try again."
    RETRY_AFTER_S: ClassVar[int] = 1

    def __init__(self, message: str | None = None, *, cause: str) -> None:
        super().__init__(message, retryable=True, retry_after_s=self.RETRY_AFTER_S, cause=cause)


class InternalError(KefuError):
    """An unexpected failure while handling one WebSocket frame: logged once, answered with
    this, and the socket stays open."""

    code = "internal_error"
    default_message = "Something went wrong on the server."


class FileTooLarge(PayloadTooLarge):
    """MSG-1: an image over KEFU_MAX_IMAGE_BYTES or another file over KEFU_MAX_FILE_BYTES;
    `kind` is `image` or `file`, `max_bytes` its limit."""

    code = "file.too_large"
    default_message = "The file is too large."


class FileTypeRefused(BadInput):
    """MSG-1: what the content is (never its name or declared type) is not accepted; `reason`
    is `executable`, `markup` (HTML, SVG, XML), `not_text` or `unknown`."""

    code = "file.type_refused"
    default_message = "This type of file cannot be sent."


class ImageRefused(BadInput):
    """MSG-1: an image whose header declares more than KEFU_MAX_IMAGE_PIXELS pixels
    (`reason` `too_many_pixels`), or that cannot be decoded (`reason` `invalid`)."""

    code = "file.image_refused"
    default_message = "This image cannot be sent."


class ProactiveNotAllowed(RuleViolation):
    """CONV-6: an agent may start a conversation only with a consumer who ordered from the shop
    within the last 30 days (params: `last_ordered_at`, or None for no order at all)."""

    code = "proactive_not_allowed"
    default_message = "Only a consumer who ordered in the last 30 days can be contacted."


class ConsumerHasOpenConversation(Conflict):
    """CONV-6: the consumer already has an open conversation with the shop, held by someone
    else or still with the bot or queued (params: `conversation_id`, `state`)."""

    code = "proactive.conversation_open"
    default_message = "The consumer already has an open conversation."
