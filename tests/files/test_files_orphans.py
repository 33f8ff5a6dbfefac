"""MSG-1: uploads that no sent message carries are swept by the durable scheduler once they
are 24 h old, in bounded batches: their rows are deleted and their files leave the disk. A
sent file is never touched."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from test_files_api import consumer_upload, open_chat, stored_files
from test_files_domain import png

from kefu.files import service
from kefu.files.domain import ORPHAN_AFTER, ORPHAN_SWEEP_EVERY
from kefu.files.store import new_key, store_for, thumbnail_key
from kefu.storage import attachments as attachment_store
from kefu.storage.attachments import NewAttachment
from support import Server, running_server


async def _orphan(
    srv: Server, chat_conversation: int, shop_id: int, *, thumb: bool, age: timedelta = timedelta()
) -> int:
    """An upload stored as `upload` stores it, `age` ago, whose message was never committed."""
    ctx = srv.runtime.ctx
    store = store_for(ctx.settings)
    key = new_key()
    await store.put(key, b"orphan")
    if thumb:
        await store.put(thumbnail_key(key), b"thumb")
    new = NewAttachment(
        shop_id=shop_id,
        conversation_id=chat_conversation,
        uploader="consumer",
        uploader_id=1,
        kind="image" if thumb else "file",
        mime="image/png" if thumb else "text/plain",
        size=6,
        name="lost",
        storage_key=key,
        width=None,
        height=None,
        thumbnail_mime="image/jpeg" if thumb else None,
    )
    async with ctx.db.uow() as tx:
        record = await attachment_store.add(tx.conn, new, now=ctx.clock.now() - age)
        await tx.commit()
    return record.id


async def _ids(srv: Server) -> set[int]:
    async with srv.db.read() as tx:
        found = await attachment_store.orphans(
            tx.conn, before=srv.clock.now() + timedelta(days=999), limit=1000
        )
    return set(found)


async def test_msg_1_orphaned_uploads_are_swept_after_24_hours(db_url: str, tmp_path: Path) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        sent = await consumer_upload(srv, chat, "照片.png", png(64, 48), "image/png")
        assert sent.status_code == 200, sent.text
        sent_files = stored_files(tmp_path)
        assert len(sent_files) == 2  # the picture and its thumbnail
        orphan = await _orphan(srv, chat.conversation_id, chat.shop.shop_id, thumb=True)
        assert await _ids(srv) == {orphan}  # the sent picture is no orphan
        assert len(stored_files(tmp_path)) == 4

        scheduler = srv.runtime.scheduler
        await scheduler.tick()
        srv.clock.advance(ORPHAN_AFTER - timedelta(minutes=1))
        await scheduler.tick()
        assert len(stored_files(tmp_path)) == 4  # not yet 24 h old

        srv.clock.advance(ORPHAN_SWEEP_EVERY)
        await scheduler.tick()
        assert stored_files(tmp_path) == sent_files
        assert await _ids(srv) == set()
        picture = sent.json()["attachment"]["id"]
        async with srv.db.read() as tx:
            assert (await attachment_store.get(tx.conn, chat.shop.shop_id, picture)).id == picture


async def test_msg_1_the_sweep_runs_in_bounded_batches_at_most_every_few_minutes(
    db_url: str, tmp_path: Path
) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        ids = {
            await _orphan(srv, chat.conversation_id, chat.shop.shop_id, thumb=False)
            for _ in range(5)
        }
        srv.clock.advance(ORPHAN_AFTER + timedelta(seconds=1))
        store = store_for(srv.runtime.ctx.settings)
        assert await service.sweep_orphans(srv.runtime.ctx, store, limit=2) == 2
        assert len(await _ids(srv)) == 3
        assert len(stored_files(tmp_path)) == 3

        scheduler = srv.runtime.scheduler
        await scheduler.tick()  # the scheduler's own batch takes the rest
        assert await _ids(srv) == set()
        assert stored_files(tmp_path) == []

        # An old orphan appears just after a sweep: a tick sooner than ORPHAN_SWEEP_EVERY
        # leaves it, the first tick after takes it.
        late = await _orphan(
            srv, chat.conversation_id, chat.shop.shop_id, thumb=False, age=ORPHAN_AFTER * 2
        )
        srv.clock.advance(ORPHAN_SWEEP_EVERY - timedelta(seconds=1))
        await scheduler.tick()
        assert await _ids(srv) == {late}
        srv.clock.advance(timedelta(seconds=1))
        await scheduler.tick()
        assert await _ids(srv) == set()
        assert ids  # five were made


async def test_msg_1_a_file_whose_message_was_committed_meanwhile_is_kept(
    db_url: str, tmp_path: Path
) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        sent = await consumer_upload(srv, chat, "照片.png", png(64, 48), "image/png")
        picture = sent.json()["attachment"]["id"]
        srv.clock.advance(ORPHAN_AFTER * 2)
        # Named as a candidate (as if chosen before its message committed): still kept.
        async with srv.db.uow() as tx:
            keys = await attachment_store.remove_orphans(tx.conn, [picture], before=srv.clock.now())
            await tx.commit()
        assert keys == []
        assert (
            await service.sweep_orphans(srv.runtime.ctx, store_for(srv.runtime.ctx.settings)) == 0
        )
        assert len(stored_files(tmp_path)) == 2
        async with srv.db.read() as tx:
            assert (await attachment_store.get(tx.conn, chat.shop.shop_id, picture)).id == picture


def _age(path: Path, at: datetime) -> None:
    os.utime(path, (at.timestamp(), at.timestamp()))


async def test_msg_1_files_no_row_names_are_swept_shard_by_shard(
    db_url: str, tmp_path: Path
) -> None:
    """A process stopped between storing a file and recording it leaves a file no row names:
    the scheduler removes it once it is 24 h old, one shard of the store a sweep."""
    root = tmp_path / "files"
    async with running_server(db_url, files_dir=root) as srv:
        chat = await open_chat(srv)
        sent = await consumer_upload(srv, chat, "照片.png", png(64, 48), "image/png")
        assert sent.status_code == 200, sent.text
        store = store_for(srv.runtime.ctx.settings)
        lost, fresh, first = ("ab" + new_key()[2:], "cd" + new_key()[2:], "00" + new_key()[2:])
        for key in (lost, fresh, first):
            await store.put(key, b"never recorded")
        await store.put(thumbnail_key(lost), b"thumb")
        part = root / lost[:2] / f"{new_key()}.part"
        part.write_bytes(b"cut short")
        old = srv.clock.now() - ORPHAN_AFTER - timedelta(minutes=1)
        for path in stored_files(tmp_path):
            _age(path, old)
        _age(root / fresh[:2] / fresh, srv.clock.now() - timedelta(hours=1))
        sent_files = [p for p in stored_files(tmp_path) if p.name[:32] not in (lost, fresh, first)]
        sent_files = [p for p in sent_files if not p.name.endswith(".part")]
        assert len(sent_files) == 2

        removed = 0
        for shard in sorted({lost[:2], fresh[:2]}):
            removed += await service.sweep_unrecorded(srv.runtime.ctx, store, shard)
        assert removed == 1
        left = stored_files(tmp_path)
        assert root / fresh[:2] / fresh in left  # written an hour ago: maybe being recorded
        assert not (root / lost[:2] / lost).exists()
        assert not (root / lost[:2] / thumbnail_key(lost)).exists()
        assert not part.exists()
        assert all(p in left for p in sent_files)  # a recorded file is never touched

        # The scheduler's first sweep looks at shard 00.
        assert (root / "00" / first).exists()
        await srv.runtime.scheduler.tick()
        assert not (root / "00" / first).exists()
        assert all(p in stored_files(tmp_path) for p in sent_files)
