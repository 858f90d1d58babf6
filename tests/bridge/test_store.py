"""The SQLite task store: migrations, atomic claiming, growing event ids, secrets lifetime."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from scaffolder.bridge.store import MIGRATIONS, TaskStore, schema_version


@pytest.fixture
def store(tmp_path: Path) -> TaskStore:
    task_store = TaskStore(f"sqlite:///{tmp_path / 'tasks.db'}")
    task_store.migrate()
    return task_store


def _create(store: TaskStore, secrets: dict[str, str] | None = None) -> str:
    return store.create_task(spec={"steps": []}, template_ref="template:default/t",
                             created_by="user:default/a", secrets=secrets or {})


def test_migrate_twice_keeps_version(tmp_path: Path) -> None:
    store = TaskStore(f"sqlite:///{tmp_path / 'tasks.db'}")
    assert store.migrate() == len(MIGRATIONS)
    assert store.migrate() == len(MIGRATIONS)
    with store.engine.connect() as connection:
        versions = connection.execute(select(schema_version.c.version)).scalars().all()
    assert versions == [len(MIGRATIONS)]


def test_store_uses_wal_journal(store: TaskStore) -> None:
    with store.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


def test_claim_is_exclusive_across_threads(store: TaskStore) -> None:
    created = {_create(store) for _ in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (task := store.claim_task(name)) is not None:
            with lock:
                claimed.append(task.id)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claimed) == sorted(created)
    assert store.claim_task("late") is None


def test_claim_takes_oldest_first(store: TaskStore) -> None:
    first = _create(store)
    _create(store)
    claimed = store.claim_task("w")
    assert claimed is not None
    assert claimed.id == first
    assert claimed.status == "processing"


def test_event_ids_only_grow(store: TaskStore) -> None:
    one, two = _create(store), _create(store)
    ids = [store.append_event(task, "log", {"message": str(n)}).id
           for n, task in enumerate([one, two, one, two, one])]
    assert ids == sorted(ids)
    assert [event.id for event in store.list_events(one, after=ids[0])] == [ids[2], ids[4]]


def test_finish_deletes_secrets(store: TaskStore) -> None:
    task_id = _create(store, {"token": "s3cret-value"})
    assert store.get_secrets(task_id) == {"token": "s3cret-value"}
    store.finish_task(task_id, "failed")
    assert store.get_secrets(task_id) is None
    task = store.get_task(task_id)
    assert task is not None
    assert task.secret_names == ["token"]


def test_cancel_open_task_is_immediate(store: TaskStore) -> None:
    task_id = _create(store)
    result = store.request_cancel(task_id, cancelled_event={"message": "cancelled"})
    assert result == ("cancelled", True)
    assert store.claim_task("w") is None
    events = store.list_events(task_id)
    assert [(event.type, event.body) for event in events] == [
        ("cancelled", {"message": "cancelled"})
    ]


def test_cancel_processing_task_sets_flag(store: TaskStore) -> None:
    task_id = _create(store)
    store.claim_task("w")
    result = store.request_cancel(task_id, cancelled_event={"message": "cancelled"})
    assert result == ("processing", False)
    assert store.heartbeat([task_id]) == {task_id}
    assert store.list_events(task_id) == []


def test_reopen_only_from_given_statuses(store: TaskStore) -> None:
    task_id = _create(store)
    assert not store.reopen_task(task_id, from_statuses=["failed"], secrets=None)
    store.claim_task("w")
    store.finish_task(task_id, "failed")
    assert store.reopen_task(task_id, from_statuses=["failed"], secrets={"a": "bbbb"})
    assert store.get_secrets(task_id) == {"a": "bbbb"}


def test_checkpoints_round_trip(store: TaskStore) -> None:
    task_id = _create(store)
    assert store.get_checkpoint(task_id, "step:key") == (False, None)
    store.put_checkpoint(task_id, "step:key", {"id": "P1"})
    store.put_checkpoint(task_id, "step:key", {"id": "P2"})
    assert store.get_checkpoint(task_id, "step:key") == (True, {"id": "P2"})
    assert store.count_checkpoints(task_id) == 1


def test_store_sets_secure_delete(store: TaskStore) -> None:
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def _files_containing(folder: Path, needle: bytes) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                  if path.is_file() and needle in path.read_bytes())


def test_finished_task_secret_leaves_no_bytes(store: TaskStore, tmp_path: Path) -> None:
    secret = "FINISHED-SECRET-9b1e0d"
    task_id = _create(store, {"token": secret})
    store.claim_task("w")
    assert _files_containing(tmp_path, secret.encode()) != []

    store.finish_task(task_id, "completed", final_event=("completion", {"output": {}}))

    assert _files_containing(tmp_path, secret.encode()) == []


def test_cancelled_task_secret_leaves_no_bytes(store: TaskStore, tmp_path: Path) -> None:
    secret = "CANCELLED-SECRET-4c2a7f"
    task_id = _create(store, {"token": secret})

    store.request_cancel(task_id, cancelled_event={"message": "cancelled"})

    assert _files_containing(tmp_path, secret.encode()) == []
