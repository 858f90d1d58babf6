"""The task store: tasks, their secrets, events and checkpoints in a SQL database.

SQLite (a file under the working directory, in WAL mode) is the default. The queries work on
any SQLAlchemy URL, and PostgreSQL is the intended choice when several bridges share the work.
The program creates and migrates the schema itself: ``schema_version`` holds the number of
migrations applied, and :data:`MIGRATIONS` lists them in order.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from scaffolder.errors import ConfigError

logger = logging.getLogger("scaffolder.bridge.store")

TASK_STATUSES = ("open", "processing", "completed", "failed", "cancelled")
FINISHED_STATUSES = frozenset({"completed", "failed", "cancelled"})
ORDER_FIELDS = {
    "created_at": "created_at",
    "createdAt": "created_at",
    "status": "status",
    "id": "id",
    "created_by": "created_by",
    "createdBy": "created_by",
    "last_heartbeat_at": "last_heartbeat_at",
    "lastHeartbeatAt": "last_heartbeat_at",
}

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, nullable=False),
)

tasks = Table(
    "tasks", metadata,
    Column("id", String(36), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("template_ref", String(255), nullable=False),
    Column("secret_names", JSON, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_heartbeat_at", DateTime(timezone=True)),
    Column("claimed_by", String(64)),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Index("ix_tasks_status_created_at", "status", "created_at"),
)

task_secrets = Table(
    "task_secrets", metadata,
    Column("task_id", String(36), ForeignKey("tasks.id"), primary_key=True),
    Column("secrets", JSON, nullable=False),
)

task_events = Table(
    "task_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(36), ForeignKey("tasks.id"), nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_task_events_task_id_id", "task_id", "id"),
    # AUTOINCREMENT makes SQLite never reuse an id, so event ids only grow.
    sqlite_autoincrement=True,
)

task_checkpoints = Table(
    "task_checkpoints", metadata,
    Column("task_id", String(36), ForeignKey("tasks.id"), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("value", JSON),
)


def _migration_1(connection: Connection) -> None:
    # NOTE: this creates the tables as declared above. When a table changes, add a migration
    # that alters it and give this one a frozen copy of the version-1 definitions.
    metadata.create_all(
        connection, tables=[tasks, task_secrets, task_events, task_checkpoints]
    )


MIGRATIONS: list[Callable[[Connection], None]] = [_migration_1]
"""Schema migrations in order; the database records how many of them it has applied."""


@dataclass(frozen=True)
class TaskRow:
    """One task as stored, without its secrets."""

    id: str
    spec: dict[str, Any]
    status: str
    template_ref: str
    secret_names: list[str]
    created_by: str
    created_at: datetime
    last_heartbeat_at: datetime | None
    cancel_requested: bool


@dataclass(frozen=True)
class StoredEvent:
    """One task event with the id and time the store gave it."""

    id: int
    task_id: str
    type: str
    body: dict[str, Any]
    created_at: datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _task_row(row: Any) -> TaskRow:
    return TaskRow(
        id=row.id,
        spec=row.spec,
        status=row.status,
        template_ref=row.template_ref,
        secret_names=list(row.secret_names or []),
        created_by=row.created_by,
        created_at=_utc(row.created_at) or utc_now(),
        last_heartbeat_at=_utc(row.last_heartbeat_at),
        cancel_requested=bool(row.cancel_requested),
    )


def _event_row(row: Any) -> StoredEvent:
    return StoredEvent(
        id=int(row.id),
        task_id=row.task_id,
        type=row.event_type,
        body=row.body,
        created_at=_utc(row.created_at) or utc_now(),
    )


class TaskStore:
    """Every read and write of task data; safe to share between threads.

    On SQLite, writes from this process go through one lock, because SQLite allows a single
    writer and a transaction that reads before it writes would otherwise fail with "database
    is locked" instead of waiting. Several processes on one SQLite file are not supported.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = _make_engine(url)
        except (SQLAlchemyError, ValueError) as error:
            raise ConfigError(
                f"cannot open the task store {_safe_url(url)!r}: {error}",
                hint="check scaffolder.taskStore, a SQLAlchemy database URL",
            ) from error
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        )

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()

    def _erase_deleted_rows(self) -> None:
        """Remove deleted rows (secrets) from the SQLite files, not only from the tables.

        ``secure_delete`` zeroes the freed bytes in the pages the deletion writes, but the
        older copies of those pages stay in the WAL file until a checkpoint. A TRUNCATE
        checkpoint copies the zeroed pages into the database file and empties the WAL. It
        waits for readers up to the busy timeout (30 s). On other databases it does nothing.
        """
        if not self.is_sqlite:
            return
        with self._write_lock, self.engine.connect() as connection:
            busy, wal_frames, copied_frames = connection.exec_driver_sql(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).one()
        if busy:
            logger.warning(
                "task store: WAL checkpoint did not finish because a reader was active "
                "(%s of %s frames copied), so deleted secrets stay in the WAL file until the "
                "next checkpoint",
                copied_frames, wal_frames,
            )

    # --- schema ---------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply the migrations the database lacks; return the schema version reached."""
        try:
            with self._write() as connection:
                schema_version.create(connection, checkfirst=True)
                current = connection.execute(select(func.max(schema_version.c.version)))
                applied = int(current.scalar() or 0)
                for number, migration in enumerate(MIGRATIONS[applied:], start=applied + 1):
                    logger.info("task store: applying migration %d", number)
                    migration(connection)
                    connection.execute(delete(schema_version))
                    connection.execute(insert(schema_version).values(version=number))
        except SQLAlchemyError as error:
            raise ConfigError(
                f"cannot prepare the task store {_safe_url(self.url)!r}: {error}",
                hint="check scaffolder.taskStore and that its folder is writable",
            ) from error
        return len(MIGRATIONS)

    # --- tasks ----------------------------------------------------------------------------

    def create_task(
        self,
        *,
        spec: dict[str, Any],
        template_ref: str,
        created_by: str,
        secrets: dict[str, str],
    ) -> str:
        task_id = str(uuid.uuid4())
        now = utc_now()
        with self._write() as connection:
            connection.execute(insert(tasks).values(
                id=task_id, spec=spec, status="open", template_ref=template_ref,
                secret_names=sorted(secrets), created_by=created_by, created_at=now,
                last_heartbeat_at=None, claimed_by=None, cancel_requested=False,
            ))
            if secrets:
                connection.execute(insert(task_secrets).values(task_id=task_id, secrets=secrets))
        return task_id

    def get_task(self, task_id: str) -> TaskRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(tasks).where(tasks.c.id == task_id)).first()
        return _task_row(row) if row is not None else None

    def list_tasks(
        self,
        *,
        created_by: Sequence[str] = (),
        statuses: Sequence[str] = (),
        order: Sequence[tuple[str, bool]] = (("created_at", True),),
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[TaskRow], int]:
        """Return one page of tasks and the number of tasks that match the filters.

        ``order`` lists ``(column, descending)`` pairs with columns from :data:`ORDER_FIELDS`.
        """
        conditions = []
        if created_by:
            conditions.append(tasks.c.created_by.in_(list(created_by)))
        if statuses:
            conditions.append(tasks.c.status.in_(list(statuses)))
        query = select(tasks).where(*conditions)
        for column_name, descending in order:
            column = tasks.c[column_name]
            query = query.order_by(column.desc() if descending else column.asc())
        query = query.order_by(tasks.c.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        count = select(func.count()).select_from(tasks).where(*conditions)
        with self.engine.connect() as connection:
            rows = [_task_row(row) for row in connection.execute(query)]
            total = int(connection.execute(count).scalar() or 0)
        return rows, total

    def claim_task(self, worker: str) -> TaskRow | None:
        """Move the oldest ``open`` task to ``processing`` for ``worker`` and return it.

        The candidate is selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite ignores it
        and relies on the write lock), and the UPDATE only succeeds while the task is still
        ``open``, so two workers never run the same task.
        """
        candidate = (
            select(tasks.c.id)
            .where(tasks.c.status == "open")
            .order_by(tasks.c.created_at, tasks.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._write() as connection:
            task_id = connection.execute(candidate).scalar()
            if task_id is None:
                return None
            claimed = connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status == "open")
                .values(status="processing", claimed_by=worker, last_heartbeat_at=utc_now(),
                        cancel_requested=False)
            )
            if claimed.rowcount != 1:
                return None
            row = connection.execute(select(tasks).where(tasks.c.id == task_id)).one()
        return _task_row(row)

    def heartbeat(self, task_ids: Sequence[str]) -> set[str]:
        """Record a heartbeat of running tasks; return those whose cancellation was requested."""
        if not task_ids:
            return set()
        with self._write() as connection:
            connection.execute(
                update(tasks)
                .where(tasks.c.id.in_(list(task_ids)), tasks.c.status == "processing")
                .values(last_heartbeat_at=utc_now())
            )
            rows = connection.execute(
                select(tasks.c.id).where(tasks.c.id.in_(list(task_ids)), tasks.c.cancel_requested)
            )
            return {row.id for row in rows}

    def request_cancel(
        self, task_id: str, *, cancelled_event: dict[str, Any]
    ) -> tuple[str | None, bool]:
        """Cancel an ``open`` task at once, or flag a ``processing`` one for its worker.

        An open task gets a ``cancelled`` event with body ``cancelled_event`` in the same
        transaction as its status, and its secrets are deleted. Returns the task's status
        afterwards (``None`` when there is no such task) and whether this call cancelled an
        open task.
        """
        with self._write() as connection:
            cancelled = connection.execute(
                update(tasks).where(tasks.c.id == task_id, tasks.c.status == "open")
                .values(status="cancelled")
            ).rowcount == 1
            if cancelled:
                connection.execute(insert(task_events).values(
                    task_id=task_id, event_type="cancelled", body=cancelled_event,
                    created_at=utc_now(),
                ))
                connection.execute(delete(task_secrets).where(task_secrets.c.task_id == task_id))
            else:
                connection.execute(
                    update(tasks).where(tasks.c.id == task_id, tasks.c.status == "processing")
                    .values(cancel_requested=True)
                )
            status = connection.execute(
                select(tasks.c.status).where(tasks.c.id == task_id)
            ).scalar()
        if cancelled:
            self._erase_deleted_rows()
        return (str(status) if status is not None else None), cancelled

    def finish_task(
        self,
        task_id: str,
        status: str,
        *,
        final_event: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """Record the final status and closing event together, and delete the task's secrets."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"not a final task status: {status!r}")
        with self._write() as connection:
            if final_event is not None:
                connection.execute(insert(task_events).values(
                    task_id=task_id, event_type=final_event[0], body=final_event[1],
                    created_at=utc_now(),
                ))
            connection.execute(
                update(tasks).where(tasks.c.id == task_id)
                .values(status=status, claimed_by=None, cancel_requested=False)
            )
            connection.execute(delete(task_secrets).where(task_secrets.c.task_id == task_id))
        self._erase_deleted_rows()

    def reopen_task(
        self, task_id: str, *, from_statuses: Sequence[str], secrets: dict[str, str] | None
    ) -> bool:
        """Put a task back to ``open`` if its status is in ``from_statuses``.

        ``secrets``, when given, replace the stored ones (a retry with fresh secrets).
        """
        with self._write() as connection:
            reopened = connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status.in_(list(from_statuses)))
                .values(status="open", claimed_by=None, cancel_requested=False)
            )
            if reopened.rowcount != 1:
                return False
            if secrets is not None:
                connection.execute(delete(task_secrets).where(task_secrets.c.task_id == task_id))
                connection.execute(insert(task_secrets).values(task_id=task_id, secrets=secrets))
                connection.execute(
                    update(tasks).where(tasks.c.id == task_id)
                    .values(secret_names=sorted(secrets))
                )
        if secrets is not None:
            self._erase_deleted_rows()
        return True

    def processing_task_ids(self, *, heartbeat_before: datetime | None = None) -> list[str]:
        """Return ``processing`` tasks, only those with an older heartbeat when given."""
        query = select(tasks.c.id).where(tasks.c.status == "processing")
        if heartbeat_before is not None:
            query = query.where(tasks.c.last_heartbeat_at < heartbeat_before)
        with self.engine.connect() as connection:
            return [row.id for row in connection.execute(query.order_by(tasks.c.created_at))]

    def get_secrets(self, task_id: str) -> dict[str, str] | None:
        with self.engine.connect() as connection:
            value = connection.execute(
                select(task_secrets.c.secrets).where(task_secrets.c.task_id == task_id)
            ).scalar()
        return dict(value) if value is not None else None

    # --- events ---------------------------------------------------------------------------

    def append_event(self, task_id: str, event_type: str, body: dict[str, Any]) -> StoredEvent:
        now = utc_now()
        with self._write() as connection:
            result = connection.execute(insert(task_events).values(
                task_id=task_id, event_type=event_type, body=body, created_at=now,
            ))
            key = result.inserted_primary_key
            if key is None:
                raise RuntimeError("the database returned no id for the new task event")
            event_id = int(key[0])
        return StoredEvent(id=event_id, task_id=task_id, type=event_type, body=body,
                           created_at=now)

    def list_events(self, task_id: str, *, after: int = 0) -> list[StoredEvent]:
        query = (
            select(task_events)
            .where(task_events.c.task_id == task_id, task_events.c.id > after)
            .order_by(task_events.c.id)
        )
        with self.engine.connect() as connection:
            return [_event_row(row) for row in connection.execute(query)]

    # --- checkpoints ----------------------------------------------------------------------

    def get_checkpoint(self, task_id: str, key: str) -> tuple[bool, Any]:
        query = select(task_checkpoints.c.value).where(
            task_checkpoints.c.task_id == task_id, task_checkpoints.c.key == key
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return (True, row.value) if row is not None else (False, None)

    def put_checkpoint(self, task_id: str, key: str, value: Any) -> None:
        with self._write() as connection:
            connection.execute(delete(task_checkpoints).where(
                task_checkpoints.c.task_id == task_id, task_checkpoints.c.key == key
            ))
            connection.execute(
                insert(task_checkpoints).values(task_id=task_id, key=key, value=value)
            )

    def count_checkpoints(self, task_id: str) -> int:
        query = select(func.count()).select_from(task_checkpoints).where(
            task_checkpoints.c.task_id == task_id
        )
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)


class TaskCheckpoints:
    """The checkpoints of one task, in the shape the runner expects."""

    def __init__(self, store: TaskStore, task_id: str) -> None:
        self._store = store
        self._task_id = task_id

    def get_checkpoint(self, key: str) -> tuple[bool, Any]:
        return self._store.get_checkpoint(self._task_id, key)

    def put_checkpoint(self, key: str, value: Any) -> None:
        self._store.put_checkpoint(self._task_id, key, value)


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=10,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # Deleted rows (task secrets) are overwritten with zeros instead of left in free space.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _safe_url(url: str) -> str:
    """Return ``url`` with any password replaced, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "<unparsable URL>"
