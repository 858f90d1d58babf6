"""Event fan-out: waking SSE and long-poll subscribers as soon as a worker records an event.

The store stays the source of truth: a subscriber reads events from the store, and the hub
only tells it when to read again. Workers run in threads, so they wake the subscribers through
``loop.call_soon_threadsafe``; a subscriber that hears nothing re-reads the store at every
keep-alive, which also picks up events written by another bridge sharing the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from scaffolder.bridge.store import FINISHED_STATUSES, StoredEvent, TaskStore

logger = logging.getLogger("scaffolder.bridge.events")

TERMINAL_EVENT_TYPES = frozenset({"completion", "cancelled"})
PING = b": ping\n\n"


def isoformat(value: Any) -> str:
    """Format a datetime as Backstage does: ISO 8601 in UTC with milliseconds and ``Z``."""
    return str(value.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def serialize_event(event: StoredEvent) -> dict[str, Any]:
    """Return the event in the shape of Backstage's ``SerializedTaskEvent``."""
    return {
        "id": event.id,
        "taskId": event.task_id,
        "type": event.type,
        "body": event.body,
        "createdAt": isoformat(event.created_at),
    }


def sse_frame(event: StoredEvent) -> bytes:
    data = json.dumps(serialize_event(event), separators=(",", ":"))
    return f"event: {event.type}\nid: {event.id}\ndata: {data}\n\n".encode()


class EventHub:
    """Per-task wake-up queues for the subscribers on the server's event loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[str, set[asyncio.Queue[None]]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, task_id: str) -> None:
        """Wake the subscribers of ``task_id``; callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and now
            loop.call_soon_threadsafe(self._wake, task_id)

    def _wake(self, task_id: str) -> None:
        for queue in self._subscribers.get(task_id, ()):
            if queue.empty():
                queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def subscribe(self, task_id: str) -> AsyncIterator[asyncio.Queue[None]]:
        queue: asyncio.Queue[None] = asyncio.Queue()
        self._subscribers.setdefault(task_id, set()).add(queue)
        try:
            yield queue
        finally:
            queue_set = self._subscribers.get(task_id)
            if queue_set is not None:
                queue_set.discard(queue)
                if not queue_set:
                    del self._subscribers[task_id]

    def subscriber_count(self) -> int:
        return sum(len(queues) for queues in self._subscribers.values())


async def _wait(queue: asyncio.Queue[None], timeout: float) -> bool:
    """Wait for a wake-up; return whether one came before ``timeout`` seconds."""
    try:
        await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return False
    return True


async def wait_for_events(
    store: TaskStore, hub: EventHub, task_id: str, *, after: int, timeout: float
) -> list[StoredEvent]:
    """Return the events after ``after`` as soon as there are any, or ``[]`` after ``timeout``.

    A task that has ended gets ``[]`` at once when no event follows ``after``. Its status is
    read before its events, and the store writes a final status together with its closing
    event, so that event is never missed.
    """
    async with hub.subscribe(task_id) as queue:
        task = await run_in_threadpool(store.get_task, task_id)
        events = await run_in_threadpool(store.list_events, task_id, after=after)
        if events or task is None or task.status in FINISHED_STATUSES:
            return events
        if await _wait(queue, timeout):
            return await run_in_threadpool(store.list_events, task_id, after=after)
        return []


async def stream_events(
    store: TaskStore, hub: EventHub, task_id: str, *, after: int, heartbeat: float
) -> AsyncIterator[bytes]:
    """Yield SSE frames of the task's events after ``after`` until its final event.

    A ``: ping`` comment goes out whenever ``heartbeat`` seconds pass without an event.
    """
    last = after
    async with hub.subscribe(task_id) as queue:
        while True:
            events = await run_in_threadpool(store.list_events, task_id, after=last)
            for event in events:
                yield sse_frame(event)
                last = event.id
                if event.type in TERMINAL_EVENT_TYPES:
                    return
            if not await _wait(queue, heartbeat):
                yield PING
