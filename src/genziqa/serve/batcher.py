"""An asyncio micro-batcher: concurrent requests' items -> one call of a batch function.

Generic over the batch function ``fn(items) -> results`` (one result per item, same order);
it knows nothing about images or HTTP, so it is unit-tested with a fake function.

How it works:

- ``reserve(n)`` admits n items or raises :class:`QueueFull` at once (the caller answers 503
  with Retry-After). Admission comes first, so a request is refused before its images are
  decoded. The bound, ``max_queue``, counts admitted items that no batch has taken yet.
- ``run(items, reservation)`` queues the items and waits for their results. A worker task
  takes the first waiting item, then collects more until it has ``max_batch_size`` or
  ``max_wait_s`` has passed since it took the first one, and calls ``fn`` on them in
  ``executor`` (one thread: the model is only ever used from that thread, and the event loop
  stays free to accept and decode other requests meanwhile).
- Items keep their submission order, inside a batch and across batches.
- An exception raised by ``fn`` is given to every item of that batch; the worker goes on
  with the next batch.
- ``run(..., timeout=)`` gives up after that many seconds (``asyncio.TimeoutError``); items
  of the request that no batch has taken yet are dropped, not computed.
- ``close()`` refuses new work, lets the queued items finish, then stops the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class QueueFull(Exception):
    """The queue has no room for the items now; try again later (HTTP 503 + Retry-After)."""


class BatcherClosed(Exception):
    """The batcher is shutting down (or was never started) and takes no new work."""


@dataclass(eq=False)
class Reservation:
    """Room for ``remaining`` items in a batcher's queue; release what is not used."""

    batcher: MicroBatcher
    remaining: int

    def release(self) -> None:
        """Give back the room not used by ``run`` (idempotent)."""
        self.batcher._waiting -= self.remaining
        self.remaining = 0

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(eq=False)
class _Item(Generic[T]):
    value: T
    future: asyncio.Future = field(repr=False)


class MicroBatcher(Generic[T, R]):
    """Collect items from concurrent callers into batches for ``fn`` (see module docstring).

    ``on_batch(size, seconds)`` is told the size and duration of every batch (for metrics).
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        max_batch_size: int = 8,
        max_wait_s: float = 0.01,
        max_queue: int = 64,
        executor: Executor | None = None,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self.fn = fn
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.executor = executor
        self.on_batch = on_batch
        # A deque and an event rather than asyncio.Queue + wait_for(get()): a get cancelled by
        # its timeout just as it received an item would lose that item on Python >= 3.12.
        self._items: deque[_Item[T]] = deque()
        self._arrived: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._unfinished = 0  # queued or in a running batch
        self._waiting = 0  # admitted, not yet taken by a batch (reserved + queued)
        self._worker: asyncio.Task | None = None
        self._closed = True

    # ------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the worker on the running event loop."""
        if self._worker is not None:
            raise RuntimeError("the batcher is already running")
        self._arrived = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._worker = asyncio.create_task(self._work(), name="micro-batcher")

    async def close(self) -> None:
        """Refuse new items, finish the queued ones, stop the worker."""
        self._closed = True
        if self._worker is None or self._idle is None:
            return
        await self._idle.wait()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    @property
    def waiting(self) -> int:
        """Items admitted and not yet taken into a batch (the queue depth)."""
        return self._waiting

    # -------------------------------------------------------------------------- callers

    def reserve(self, count: int) -> Reservation:
        """Admit ``count`` items now or raise :class:`QueueFull` / :class:`BatcherClosed`."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if self._closed:
            raise BatcherClosed("the service is shutting down")
        if count > self.max_queue:
            raise QueueFull(f"{count} items can never fit in a queue of {self.max_queue}")
        if self._waiting + count > self.max_queue:
            raise QueueFull(
                f"the queue is full ({self._waiting} of {self.max_queue} waiting, "
                f"{count} more asked)"
            )
        self._waiting += count
        return Reservation(self, count)

    async def run(
        self,
        items: Sequence[T],
        reservation: Reservation | None = None,
        timeout: float | None = None,
    ) -> list[R]:
        """Results of ``fn`` for ``items``, in order; raises what ``fn`` raised for their batch.

        Without a ``reservation`` the items are admitted here (and may raise QueueFull).
        """
        if not items:
            return []
        own = reservation is None
        if reservation is None:
            reservation = self.reserve(len(items))
        try:
            if len(items) > reservation.remaining:
                raise ValueError(
                    f"{len(items)} items but the reservation has room for {reservation.remaining}"
                )
            if self._closed or self._arrived is None or self._idle is None:
                raise BatcherClosed("the service is shutting down")
            loop = asyncio.get_running_loop()
            queued = [_Item(value, loop.create_future()) for value in items]
            reservation.remaining -= len(queued)
            self._items.extend(queued)
            self._unfinished += len(queued)
            self._idle.clear()
            self._arrived.set()
        finally:
            if own:
                reservation.release()
        futures = [item.future for item in queued]
        try:
            return list(await asyncio.wait_for(asyncio.gather(*futures), timeout))
        except BaseException:
            for future in futures:
                if not future.done():
                    future.cancel()  # the worker drops untaken items
                elif not future.cancelled():
                    future.exception()  # the batch's shared error: retrieved, not logged
            raise

    # --------------------------------------------------------------------------- worker

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = self._pop()
            if first is None:
                await self._wait_for_items(None)
                continue
            batch = [first]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch_size:
                item = self._pop()
                if item is not None:
                    batch.append(item)
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                await self._wait_for_items(left)
            await self._run_batch(batch)
            self._finish(len(batch))

    async def _wait_for_items(self, timeout: float | None) -> None:
        """Until an item is queued, or ``timeout`` seconds pass."""
        assert self._arrived is not None
        if self._items:
            return
        self._arrived.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), timeout)

    def _pop(self) -> _Item[T] | None:
        """The oldest queued item whose caller still waits (cancelled ones are dropped)."""
        while self._items:
            item = self._items.popleft()
            self._waiting -= 1
            if not item.future.done():
                return item
            self._finish(1)
        return None

    def _finish(self, count: int) -> None:
        assert self._idle is not None
        self._unfinished -= count
        if self._unfinished == 0:
            self._idle.set()

    async def _run_batch(self, batch: list[_Item[T]]) -> None:
        loop = asyncio.get_running_loop()
        values = [item.value for item in batch]
        started = time.perf_counter()
        try:
            results = list(await loop.run_in_executor(self.executor, self.fn, values))
            if len(results) != len(batch):
                raise RuntimeError(
                    f"the batch function returned {len(results)} results for {len(batch)} items"
                )
        except asyncio.CancelledError:
            for item in batch:
                item.future.cancel()
            raise
        except Exception as error:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
        else:
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
        if self.on_batch is not None:
            with contextlib.suppress(Exception):  # metrics must never stop the worker
                self.on_batch(len(batch), time.perf_counter() - started)
