"""Every table, as SQLAlchemy Core. Every shop-owned row carries shop_id (ACCT-5)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)

from kefu.storage.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger ids that are still INTEGER PRIMARY KEY (rowid aliases) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

shops = Table(
    "shops",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("manager_name", String(50), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("settings", JSON, nullable=False, default=dict),
    Column("created_at", UtcDateTime, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False, index=True),
    Column("name", String(50), nullable=False),
    UniqueConstraint("shop_id", "name"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("username", String(50), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("display_name", String(50), nullable=False),
    Column("role", String(20), nullable=False),
    Column("group_id", ForeignKey("groups.id"), nullable=True),
    Column("has_im_permission", Boolean, nullable=False, default=True),
    Column("status", String(20), nullable=False, default="offline"),
    Column("is_suspended", Boolean, nullable=False, default=False),
    Column("reception_limit", Integer, nullable=False, default=3),
    Column("created_at", UtcDateTime, nullable=False),
    # ACCT-1: a disabled account keeps its history but cannot log in or be routed to.
    Column("is_disabled", Boolean, nullable=False, server_default=text("false")),
    # PRES-1: the last sign of life (login, status change, staff socket); None: never signed in.
    Column("last_seen_at", UtcDateTime, nullable=True),
    UniqueConstraint("shop_id", "username"),
)

status_changes = Table(
    "status_changes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_status_changes_account_at", "account_id", "at"),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("account_id", ForeignKey("accounts.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoked_reason", String(20), nullable=True),
)

# A login attempt counts as failed from the start (ACCT-4); one that succeeds is deleted, and
# marks the account's earlier ones cleared, which still count against their address.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", Id, nullable=False),
    Column("username", String(50), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("ip", String(45), nullable=True),
    Column("cleared_at", UtcDateTime, nullable=True),
    # The attempt's password is still being checked (ACCT-4: counted as it starts).
    Column("checking", Boolean, nullable=False, server_default=text("false")),
    Index("ix_login_failures_who_at", "shop_id", "username", "at"),
    Index("ix_login_failures_ip_at", "ip", "at"),
)

# Who changed which staff, group or setting, and when (ACCT-6, LIVE-3). actor_id is None for
# the command line (`kefu shop create`).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("actor_id", Id, nullable=True),
    Column("action", String(50), nullable=False),
    Column("target_kind", String(20), nullable=False),
    Column("target_id", Id, nullable=True),
    Column("details", JSON, nullable=False, default=dict),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_audit_log_shop_id_id", "shop_id", "id"),
)

consumers = Table(
    "consumers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("uid", String(64), nullable=False),
    Column("nickname", String(50), nullable=False),
    Column("is_vip", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "uid"),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("price", String(20), nullable=False),
    Column("url", String(500), nullable=False, default=""),
    Column("image", String(500), nullable=False, default=""),
    # API-1: what the import adds to the page's minimal product.
    Column("stock", Integer, nullable=False, default=0, server_default="0"),
    Column("on_sale", Boolean, nullable=False, default=True, server_default=text("true")),
    UniqueConstraint("shop_id", "external_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("consumer_id", ForeignKey("consumers.id"), nullable=True),
    Column("order_no", String(64), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("amount", String(20), nullable=False),
    Column("title", String(200), nullable=False, default=""),
    Column("ordered_at", UtcDateTime, nullable=False),
    # API-1: the lines ([{external_id, title, quantity, price}]), status and its times.
    Column("items", JSON, nullable=False, default=list, server_default="[]"),
    Column("status", String(20), nullable=False, default="paid", server_default="paid"),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("shipped_at", UtcDateTime, nullable=True),
    Column("received_at", UtcDateTime, nullable=True),
    UniqueConstraint("shop_id", "order_no"),
    Index("ix_orders_shop_consumer", "shop_id", "consumer_id"),
)

OPEN_STATES_SQL = "state IN ('bot', 'queued', 'assigned', 'offline')"

conversations = Table(
    "conversations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("consumer_id", ForeignKey("consumers.id"), nullable=False),
    Column("state", String(20), nullable=False),
    Column("group_id", ForeignKey("groups.id"), nullable=True),
    Column("agent_id", ForeignKey("accounts.id"), nullable=True),
    Column("entry", JSON, nullable=False, default=dict),
    Column("created_at", UtcDateTime, nullable=False),
    Column("human_requested_at", UtcDateTime, nullable=True),
    Column("assigned_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("end_cause", String(20), nullable=True),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("last_message_at", UtcDateTime, nullable=True),
    Column("last_consumer_message_at", UtcDateTime, nullable=True),
    Column("awaiting_reply_since", UtcDateTime, nullable=True),
    Column("auto_end_warned_at", UtcDateTime, nullable=True),
    Column("is_transferred", Boolean, nullable=False, default=False),
    Index("ix_conversations_shop_state_agent", "shop_id", "state", "agent_id"),
    Index("ix_conversations_shop_state_group", "shop_id", "state", "group_id"),
    Index("ix_conversations_agent_ended", "agent_id", "ended_at"),
    Index("ix_conversations_consumer", "consumer_id", "created_at"),
    # At most one open conversation per consumer and shop, enforced by the database (CONV-5).
    Index(
        "uq_conversations_open_per_consumer",
        "shop_id",
        "consumer_id",
        unique=True,
        sqlite_where=text(OPEN_STATES_SQL),
        postgresql_where=text(OPEN_STATES_SQL),
    ),
)

participants = Table(
    "participants",
    metadata,
    Column("conversation_id", ForeignKey("conversations.id"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("role", String(20), nullable=False),
    Column("joined_at", UtcDateTime, nullable=False),
    Index("ix_participants_account", "account_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("sender", String(20), nullable=False),
    Column("sender_id", Id, nullable=True),
    Column("kind", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("client_id", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    # Bot answers carry their question and feedback state here (BOT-3); others have none.
    Column("meta", JSON, nullable=True),
    UniqueConstraint("conversation_id", "seq"),
    UniqueConstraint("conversation_id", "sender", "client_id"),
)

conversation_events = Table(
    "conversation_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("cause", String(30), nullable=True),
    Column("agent_id", Id, nullable=True),
    Column("group_id", Id, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("data", JSON, nullable=False, default=dict),
    Index("ix_conversation_events_shop_kind_at", "shop_id", "kind", "at"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False, index=True),
    Column("from_agent_id", ForeignKey("accounts.id"), nullable=True),
    Column("to_agent_id", ForeignKey("accounts.id"), nullable=True),
    Column("to_group_id", ForeignKey("groups.id"), nullable=True),
    Column("state", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    # CONV-7: a pending offer not decided by then expires; None: decided when made.
    Column("expires_at", UtcDateTime, nullable=True),
)

timers = Table(
    "timers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime, nullable=True),
    UniqueConstraint("conversation_id", "kind"),
    Index("ix_timers_due", "fired_at", "due_at"),
)

# The bot's knowledge base (BOT-2). `version` in bot_kb is bumped by every write to a shop's
# questions or synonyms, so each process can tell that its cached matcher is stale.
bot_kb = Table(
    "bot_kb",
    metadata,
    Column("shop_id", ForeignKey("shops.id"), primary_key=True),
    Column("version", Integer, nullable=False, default=0),
    Column("synonyms", JSON, nullable=False, default=list),
    Column("user_words", JSON, nullable=False, default=list),
)

kb_categories = Table(
    "kb_categories",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False, index=True),
    Column("name", String(50), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

kb_questions = Table(
    "kb_questions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("category_id", ForeignKey("kb_categories.id"), nullable=True),
    Column("question", String(200), nullable=False),
    Column("answer", Text, nullable=False),
    Column("phrasings", JSON, nullable=False, default=list),
    Column("related_ids", JSON, nullable=False, default=list),
    # Per-question counters, each updated in the transaction that writes its event row.
    Column("hit_count", Integer, nullable=False, default=0),
    Column("resolved_count", Integer, nullable=False, default=0),
    Column("unresolved_count", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_kb_questions_shop_category", "shop_id", "category_id"),
)

# The consumer's entry (ENTRY-2): FAQ menu, bot cards and consumer phrases, one row per shop.
shop_entries = Table(
    "shop_entries",
    metadata,
    Column("shop_id", ForeignKey("shops.id"), primary_key=True),
    Column("faq_menu", JSON, nullable=False, default=list),
    Column("bot_cards", JSON, nullable=False, default=list),
    Column("consumer_phrases", JSON, nullable=False, default=list),
)

# Quick phrases (MSG-4): account_id set for a personal phrase, NULL for a shop-wide one.
quick_phrases = Table(
    "quick_phrases",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("account_id", ForeignKey("accounts.id"), nullable=True),
    Column("title", String(30), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_quick_phrases_shop_account", "shop_id", "account_id"),
)

# Welcome and closing messages per group or per agent (SET-2); target is "group" or "agent".
greetings = Table(
    "greetings",
    metadata,
    Column("shop_id", ForeignKey("shops.id"), primary_key=True),
    Column("target", String(10), primary_key=True),
    Column("target_id", Id, primary_key=True),
    Column("welcome", Text, nullable=True),
    Column("closing", Text, nullable=True),
)


# Permissions per feature area (ACCT-6): the owner's grants (is_granted true) and revocations
# (false) where they differ from the account's role defaults, and sub-accounts' requests.
permission_grants = Table(
    "permission_grants",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("feature", String(20), primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("is_granted", Boolean, nullable=False),
)

permission_requests = Table(
    "permission_requests",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("feature", String(20), nullable=False),
    Column("note", String(200), nullable=False, default=""),
    Column("status", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decided_by", ForeignKey("accounts.id"), nullable=True),
    Index("ix_permission_requests_shop_id_status", "shop_id", "status"),
)


# OFFL-2: one entry per consumer and shop, however often they write; a later visit reopens it.
offline_entries = Table(
    "offline_entries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("consumer_id", ForeignKey("consumers.id"), nullable=False),
    Column("cause", String(20), nullable=False),  # the latest reason (OfflineCause)
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime, nullable=True),
    Column("processed_by", ForeignKey("accounts.id"), nullable=True),
    Column("processed_cause", String(20), nullable=True),
    UniqueConstraint("shop_id", "consumer_id"),
    Index("ix_offline_entries_shop_processed_last", "shop_id", "processed_at", "last_at"),
)

# ROUTE-5, DESK-7: consumers whose human requests go straight to offline messages.
blacklist = Table(
    "blacklist",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("consumer_id", ForeignKey("consumers.id"), nullable=False),
    Column("reason", String(200), nullable=False, default=""),
    Column("added_by", ForeignKey("accounts.id"), nullable=True),
    Column("added_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "consumer_id"),
)


# Every rating a consumer gives (RATE-1, RATE-2): the rated agent (the holder then, CONV-7),
# the source (self / invited / forced) and, for an invitation or forced card, the card's seq.
ratings = Table(
    "ratings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False, index=True),
    Column("agent_id", ForeignKey("accounts.id"), nullable=False),
    Column("stars", Integer, nullable=False),
    Column("source", String(10), nullable=False),
    Column("card_seq", Integer, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_ratings_shop_at", "shop_id", "at"),
    # RATE-1: each card is answered once (NULLs, the consumer's own ratings, are checked
    # by the service under the conversation's row lock).
    UniqueConstraint("conversation_id", "card_seq"),
)

# A shop's consultation classification tree (CONV-10); removed nodes stay, marked, so that
# earlier summaries keep their category.
summary_categories = Table(
    "summary_categories",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False, index=True),
    Column("parent_id", Id, nullable=True),
    Column("name", String(30), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Column("is_removed", Boolean, nullable=False, server_default=text("false")),
)

# One consultation summary per conversation (CONV-10); `path` keeps the names as picked.
conversation_summaries = Table(
    "conversation_summaries",
    metadata,
    Column("conversation_id", ForeignKey("conversations.id"), primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("category_id", ForeignKey("summary_categories.id"), nullable=False),
    Column("path", JSON, nullable=False, default=list),
    Column("note", Text, nullable=False, default=""),
    Column("agent_id", ForeignKey("accounts.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_conversation_summaries_shop_category", "shop_id", "category_id"),
)


# Integration tokens (API-2): only the SHA-256 of the token is kept; it is shown once.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("name", String(50), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("hint", String(12), nullable=False),
    Column("created_by", ForeignKey("accounts.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)


# Pictures and files sent in chats (MSG-1): the contents are in the file store under
# storage_key (generated); `name` is the sender's file name, a display string only.
attachments = Table(
    "attachments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("uploader", String(20), nullable=False),
    Column("uploader_id", Id, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("mime", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("storage_key", String(64), nullable=False, unique=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("thumbnail_mime", String(50), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_attachments_conversation", "conversation_id"),
)


# The customer profile the shop's staff keep per consumer (DESK-5): notes, tags and a phone.
customer_profiles = Table(
    "customer_profiles",
    metadata,
    Column("shop_id", ForeignKey("shops.id"), primary_key=True),
    Column("consumer_id", ForeignKey("consumers.id"), primary_key=True),
    Column("notes", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=list),
    Column("phone", String(20), nullable=False, default=""),
    Column("updated_by", Id, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The pages of the shop's site a consumer viewed during a conversation (DESK-5 trail), as the
# widget embedded there reports them; capped per conversation.
page_views = Table(
    "page_views",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("url", String(500), nullable=False),
    Column("title", String(200), nullable=False, default=""),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_page_views_conversation_at", "conversation_id", "at"),
)


# History search (DATA-5). PostgreSQL: a trigram GIN index on the message text (pg_trgm), used
# by `body ILIKE '%words%'` for words of 3 or more characters. SQLite: an FTS5 index with the
# trigram tokenizer over the same text (external content: it stores no copy of the bodies),
# filled in bulk after the messages are stored (below). Both find any substring,
# whatever a word segmenter would make of the text (Chinese has no spaces).
ix_messages_body_trgm = Index(
    "ix_messages_body_trgm",
    messages.c.body,
    postgresql_using="gin",
    postgresql_ops={"body": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")

# DATA-5: a search within a time range reads that range's messages only.
ix_messages_shop_created = Index(
    "ix_messages_shop_created", messages.c.shop_id, messages.c.created_at
)

MESSAGE_SEARCH_TABLE = "message_search"
PG_SEARCH_DDL = ("CREATE EXTENSION IF NOT EXISTS pg_trgm",)
# SQLite's index is filled after the fact, not by a trigger on every insert: FTS5 writes a new
# segment at every commit that changes it, and merging the segments of the writer's small
# commits cost more than the rest of a send (issue 16). The message writer indexes the new
# messages in bulk every CHECKPOINT_EVERY_S (storage/search.py `index_pending`);
# `message_search_progress` holds the last message id indexed, and searches read the messages
# above it directly, so that they find every message from the moment it is stored. A change
# of an indexed message is applied to the index at once by the triggers below; a deleted
# newest message brings the mark down with it, so that an id SQLite gives again is indexed.
SQLITE_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_search USING fts5("
    "body, content='messages', content_rowid='id', tokenize='trigram')",
    "CREATE TABLE IF NOT EXISTS message_search_progress ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO message_search_progress (id, indexed_upto) "
    "SELECT 1, coalesce(max(id), 0) FROM messages",
    "CREATE TRIGGER IF NOT EXISTS message_search_delete AFTER DELETE ON messages "
    "WHEN old.id <= (SELECT indexed_upto FROM message_search_progress) BEGIN "
    "INSERT INTO message_search(message_search, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "UPDATE message_search_progress SET indexed_upto = "
    "min(indexed_upto, (SELECT coalesce(max(id), 0) FROM messages)); END",
    "CREATE TRIGGER IF NOT EXISTS message_search_update AFTER UPDATE OF body ON messages "
    "WHEN old.id <= (SELECT indexed_upto FROM message_search_progress) BEGIN "
    "INSERT INTO message_search(message_search, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "INSERT INTO message_search(rowid, body) VALUES (new.id, new.body); END",
)
SQLITE_SEARCH_DROP = (
    "DROP TRIGGER IF EXISTS message_search_update",
    "DROP TRIGGER IF EXISTS message_search_delete",
    "DROP TABLE IF EXISTS message_search_progress",
    "DROP TABLE IF EXISTS message_search",
)


def _search_ddl(statements: tuple[str, ...], dialect: str) -> list[DDL]:
    return [DDL(s).execute_if(dialect=dialect) for s in statements]  # type: ignore[no-untyped-call]


for _ddl in _search_ddl(PG_SEARCH_DDL, "postgresql"):
    event.listen(metadata, "before_create", _ddl)
for _ddl in _search_ddl(SQLITE_SEARCH_DDL, "sqlite"):
    event.listen(messages, "after_create", _ddl)
for _ddl in _search_ddl(SQLITE_SEARCH_DROP, "sqlite"):
    event.listen(messages, "before_drop", _ddl)


def declared_schema_filter(
    dialect: str,
) -> Callable[[object, str | None, str, bool, object], bool]:
    """For schema comparisons (Alembic's `include_object`): SQLite's search index is a virtual
    table with shadow tables made by DDL, and the trigram index exists on PostgreSQL only."""

    def include(_obj: object, name: str | None, type_: str, _refl: bool, _to: object) -> bool:
        if type_ == "table" and name is not None and name.startswith(MESSAGE_SEARCH_TABLE):
            return False
        return not (dialect != "postgresql" and name == ix_messages_body_trgm.name)

    return include


# DATA-5: the conversation list walks a shop's conversations newest first by id.
ix_conversations_shop_newest = Index(
    "ix_conversations_shop_newest", conversations.c.shop_id, conversations.c.id
)


# QA-1: the shop's inspection rules, one version per day they apply from (the day after the
# owner saved them, in the shop's time zone); `rules` is the whole rule set as JSON.
qa_rule_versions = Table(
    "qa_rule_versions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("applies_from", Date, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("created_by", ForeignKey("accounts.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "applies_from"),
)

# QA-2: an inspection is a durable job: the conversations started in [starts_at, ends_at) in
# its groups (none: every group), walked in id order; `cursor` is the last id inspected, so a
# restart goes on from there. Whoever advances it holds its row lock (FOR UPDATE SKIP LOCKED
# on PostgreSQL, SQLite's single writer) while it inspects one chunk.
qa_inspections = Table(
    "qa_inspections",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("created_by", ForeignKey("accounts.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("group_ids", JSON, nullable=False),
    Column("state", String(10), nullable=False),
    Column("total", Integer, nullable=False),
    Column("processed", Integer, nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Index("ix_qa_inspections_shop_id_id", "shop_id", "id"),
    Index("ix_qa_inspections_state", "state"),
)

# QA-2: each rule met in a conversation by an inspection, at a message (seq None: at the
# assignment).
qa_hits = Table(
    "qa_hits",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("inspection_id", ForeignKey("qa_inspections.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("agent_id", ForeignKey("accounts.id"), nullable=False),
    Column("rule_key", String(20), nullable=False),
    Column("polarity", String(10), nullable=False),
    Column("seq", Integer, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_qa_hits_inspection_id_agent_id", "inspection_id", "agent_id"),
)

# QA-2: a reviewer's false positive, kept by what it is (conversation, rule, message; seq 0
# for a hit at the assignment), not by the hit row, so that it stays excluded when the same
# range is inspected again.
qa_false_positives = Table(
    "qa_false_positives",
    metadata,
    Column("conversation_id", ForeignKey("conversations.id"), primary_key=True),
    Column("rule_key", String(20), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("marked_by", ForeignKey("accounts.id"), nullable=False),
    Column("marked_at", UtcDateTime, nullable=False),
)


# Alert rules (LIVE-2): a threshold on one metric of the shop, of a group, or of each agent of
# a group (scope "agent"), with up to 10 recipient accounts (a JSON list of account ids). A
# group's rules go with the group.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("scope", String(10), nullable=False),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=True),
    Column("metric", String(30), nullable=False),
    Column("comparison", String(2), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("recipients", JSON, nullable=False, default=list),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_alert_rules_shop_id", "shop_id"),
)

# LIVE-2: the alerts raised, one per rule and evaluation period at most (the unique key), with
# the rule as it was and each scope's breaking value; `suppressed` ones were not sent because a
# shop alert was raised in the same evaluation.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("rule_id", Id, nullable=False),
    Column("period_at", UtcDateTime, nullable=False),
    Column("scope", String(10), nullable=False),
    Column("group_id", Id, nullable=True),
    Column("metric", String(30), nullable=False),
    Column("comparison", String(2), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("hits", JSON, nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("suppressed", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("rule_id", "period_at"),
    Index("ix_alert_events_shop_id_id", "shop_id", "id"),
)

# LIVE-2: when each shop's alerts are next evaluated; a process claims the due row (FOR UPDATE
# SKIP LOCKED on PostgreSQL, SQLite's single writer) and moves it on, so one evaluates.
alert_schedules = Table(
    "alert_schedules",
    metadata,
    Column("shop_id", ForeignKey("shops.id"), primary_key=True),
    Column("next_at", UtcDateTime, nullable=False),
    Index("ix_alert_schedules_next_at", "next_at"),
)


# SET-3: each account's notification preferences; no row means the defaults (all on).
notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("is_sound_on", Boolean, nullable=False),
    Column("is_desktop_on", Boolean, nullable=False),
    Column("events", String(200), nullable=False),
)

# MSG-1: the orphaned-upload sweep reads the oldest attachments first.
ix_attachments_created = Index("ix_attachments_created_at", attachments.c.created_at)


# Analytics rollups (DATA-1, DATA-2, DATA-3): the additive counts of kefu.analytics.metrics.Tally
# per shop, agent (0: the shop as a whole) and hour bucket — the UTC start of the local hour the
# conversations started in, in the shop's time zone of `analytics_zones`.
ROLLUP_COUNTS = (
    "conversations", "human_requests", "assigned", "picked_up", "settled", "queued",
    "queue_time_us", "first_responses", "first_response_us", "replies", "response_us",
    "replies_within_30s", "replies_within_60s", "rated", "satisfied", "a_requests",
    "a_non_service", "a_first_reply_within_2min", "a_rounds", "a_rounds_within_3min",
)  # fmt: skip


def _counts() -> list[Column[int]]:
    return [Column(name, BigInteger, nullable=False, default=0) for name in ROLLUP_COUNTS]


analytics_rollups = Table(
    "analytics_rollups",
    metadata,
    Column("shop_id", ForeignKey("shops.id"), primary_key=True),
    Column("agent_id", Id, primary_key=True),
    Column("bucket", UtcDateTime, primary_key=True),
    *_counts(),
)

# What each conversation adds to the rollups now (one row for the shop, one per credited
# agent), so that a change subtracts it before adding the new; `stale_at`: when it changes
# with time alone (a request settling at day end, a round failing after 3 minutes).
# No foreign key to conversations here nor in the outbox: its check would take a share lock on
# the conversation row, which a use case holds FOR UPDATE while it marks the outbox row a folder
# holds (a deadlock); conversations are never deleted.
analytics_parts = Table(
    "analytics_parts",
    metadata,
    Column("conversation_id", Id, primary_key=True),
    Column("agent_id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("bucket", UtcDateTime, nullable=False),
    Column("stale_at", UtcDateTime, nullable=True),
    *_counts(),
    Index("ix_analytics_parts_stale_at", "stale_at"),
)

# The durable outbox of conversations whose facts changed since they were folded into the
# rollups; written in the transaction of the change, emptied by the scheduler.
analytics_dirty = Table(
    "analytics_dirty",
    metadata,
    Column("conversation_id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False, index=True),
    Column("version", Integer, nullable=False, default=0),
)

# The time zone a shop's rollups were computed in; when the shop's changes, all is refolded.
analytics_zones = Table(
    "analytics_zones",
    metadata,
    Column("shop_id", ForeignKey("shops.id"), primary_key=True),
    Column("time_zone", String(64), nullable=False),
)


# Signed webhooks (API-2): the owner's endpoints; `events` lists the subscribed event types.
# The secrets sign deliveries, so they are kept as such; the API shows each once.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("events", JSON, nullable=False, default=list),
    Column("is_enabled", Boolean, nullable=False, default=True),
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100), nullable=True),
    Column("previous_secret_until", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The outbox (API-2): one row per event and endpoint, written in the event's own transaction;
# the delivery worker claims rows whose next_attempt_at is due. The body is fixed at the
# event, so every attempt sends the same bytes under the same event id.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("endpoint_id", ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("event", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(200), nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    Index("ix_webhook_deliveries_created_at", "created_at"),
)

# Every attempt of a delivery (API-2's delivery log).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("delivery_id", ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    Column("shop_id", ForeignKey("shops.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(200), nullable=True),
    Column("duration_ms", Integer, nullable=False),
)
