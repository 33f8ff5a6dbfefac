"""search index filled in bulk

Issue 16, DATA-5: on SQLite the search index is no longer filled by a trigger on every message
insert, which made FTS5 write and merge a segment at every commit of the message writer; the
writer indexes the new messages in bulk instead, and `message_search_progress` holds the last
message id indexed (every message there now is). Changes to indexed messages are still applied
by triggers. PostgreSQL is unchanged.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

OLD_TRIGGERS = (
    "DROP TRIGGER IF EXISTS message_search_insert",
    "DROP TRIGGER IF EXISTS message_search_delete",
    "DROP TRIGGER IF EXISTS message_search_update",
)
UPGRADE = (
    *OLD_TRIGGERS,
    "CREATE TABLE message_search_progress ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL)",
    "INSERT INTO message_search_progress (id, indexed_upto) "
    "SELECT 1, coalesce(max(id), 0) FROM messages",
    "CREATE TRIGGER message_search_delete AFTER DELETE ON messages "
    "WHEN old.id <= (SELECT indexed_upto FROM message_search_progress) BEGIN "
    "INSERT INTO message_search(message_search, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "UPDATE message_search_progress SET indexed_upto = "
    "min(indexed_upto, (SELECT coalesce(max(id), 0) FROM messages)); END",
    "CREATE TRIGGER message_search_update AFTER UPDATE OF body ON messages "
    "WHEN old.id <= (SELECT indexed_upto FROM message_search_progress) BEGIN "
    "INSERT INTO message_search(message_search, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "INSERT INTO message_search(rowid, body) VALUES (new.id, new.body); END",
)
DOWNGRADE = (
    "INSERT INTO message_search(rowid, body) SELECT id, body FROM messages "
    "WHERE id > (SELECT indexed_upto FROM message_search_progress)",
    *OLD_TRIGGERS,
    "DROP TABLE message_search_progress",
    "CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO message_search(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO message_search(message_search, rowid, body) "
    "VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER message_search_update AFTER UPDATE OF body ON messages BEGIN "
    "INSERT INTO message_search(message_search, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "INSERT INTO message_search(rowid, body) VALUES (new.id, new.body); END",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in DOWNGRADE:
            op.execute(statement)
