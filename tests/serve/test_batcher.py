"""The micro-batcher on its own, with fake batch functions (no model, no HTTP)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from genziqa.serve.batcher import BatcherClosed, MicroBatcher, QueueFull


class Recorder:
    """A batch function that doubles its items and records every batch it was given.

    With ``gate`` set, the first batch waits for the gate (a threading.Event) to open, so a
    test can queue more work while the worker is busy.
    """

    def __init__(self, gate: threading.Event | None = None, fail_on: object = None) -> None:
        self.batches: list[list] = []
        self.gate = gate
        self.fail_on = fail_on
        self.started = threading.Event()

    def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        self.started.set()
        if self.gate is not None and len(self.batches) == 1:
            assert self.gate.wait(10), "the test never opened the gate"
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot process {self.fail_on!r}")
        return [item * 2 for item in items]


async def _started(batcher: MicroBatcher) -> MicroBatcher:
    await batcher.start()
    return batcher


async def _wait_started(recorder: Recorder) -> None:
    while not recorder.started.is_set():
        await asyncio.sleep(0.005)


def test_max_batch_size_caps_every_batch_and_keeps_order() -> None:
    async def main() -> tuple[Recorder, list]:
        gate = threading.Event()
        recorder = Recorder(gate)
        batcher = await _started(MicroBatcher(recorder, max_batch_size=4, max_wait_s=0.0))
        first = asyncio.create_task(batcher.run([0]))
        await _wait_started(recorder)  # the worker is busy with [0]; queue ten more meanwhile
        rest = [asyncio.create_task(batcher.run([i])) for i in range(1, 11)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.close()
        return recorder, results

    recorder, results = asyncio.run(main())
    assert recorder.batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert results == [[2 * i] for i in range(11)]


def test_max_wait_collects_late_items_only_within_the_window() -> None:
    async def main(max_wait: float, gap: float) -> list[list]:
        recorder = Recorder()
        batcher = await _started(MicroBatcher(recorder, max_batch_size=10, max_wait_s=max_wait))
        first = asyncio.create_task(batcher.run([1]))
        await asyncio.sleep(gap)
        second = asyncio.create_task(batcher.run([2]))
        await asyncio.gather(first, second)
        await batcher.close()
        return recorder.batches

    # The second item comes long after the window closed: two batches.
    assert asyncio.run(main(max_wait=0.02, gap=0.5)) == [[1], [2]]
    # It comes well inside the window: the worker waited for it, one batch.
    assert asyncio.run(main(max_wait=2.0, gap=0.05)) == [[1, 2]]


def test_a_full_batch_does_not_wait_for_the_window() -> None:
    async def main() -> tuple[list, bool]:
        recorder = Recorder()
        batcher = await _started(MicroBatcher(recorder, max_batch_size=2, max_wait_s=60.0))
        task = asyncio.create_task(batcher.run([1, 2]))
        done, _ = await asyncio.wait({task}, timeout=10)  # far less than the 60 s window
        await batcher.close()
        return recorder.batches, task in done

    batches, finished = asyncio.run(main())
    assert finished
    assert batches == [[1, 2]]


def test_queue_full_and_reservations() -> None:
    async def main() -> None:
        gate = threading.Event()
        recorder = Recorder(gate)
        batcher = await _started(MicroBatcher(recorder, max_batch_size=1, max_queue=2))
        with pytest.raises(QueueFull, match="never fit"):
            batcher.reserve(3)
        busy = asyncio.create_task(batcher.run([0]))  # taken by the worker: not waiting
        await _wait_started(recorder)
        held = batcher.reserve(2)
        assert batcher.waiting == 2
        with pytest.raises(QueueFull, match="the queue is full"):
            batcher.reserve(1)
        with pytest.raises(QueueFull):
            await batcher.run([5])
        queued = asyncio.create_task(batcher.run([1], held))  # uses one of the two slots
        await asyncio.sleep(0)
        held.release()  # gives back the unused one
        assert batcher.waiting == 1
        gate.set()
        assert await busy == [0]
        assert await queued == [2]
        assert batcher.waiting == 0
        with pytest.raises(ValueError, match="room for 0"):
            await batcher.run([1], held)
        await batcher.close()

    asyncio.run(main())


def test_timeout_drops_untaken_items_and_the_worker_goes_on() -> None:
    async def main() -> Recorder:
        gate = threading.Event()
        recorder = Recorder(gate)
        batcher = await _started(MicroBatcher(recorder, max_batch_size=4, max_wait_s=0.0))
        busy = asyncio.create_task(batcher.run([0]))
        await _wait_started(recorder)
        with pytest.raises(asyncio.TimeoutError):
            await batcher.run([7, 8], timeout=0.05)
        assert batcher.waiting == 2  # still queued, but their caller is gone
        gate.set()
        assert await busy == [0]
        assert await batcher.run([3]) == [6]
        assert batcher.waiting == 0
        await batcher.close()
        return recorder

    recorder = asyncio.run(main())
    assert recorder.batches == [[0], [3]]  # 7 and 8 were never computed


def test_an_exception_fails_its_batch_only() -> None:
    async def main() -> tuple[Recorder, list]:
        gate = threading.Event()
        recorder = Recorder(gate, fail_on="bad")
        batcher = await _started(MicroBatcher(recorder, max_batch_size=2, max_wait_s=0.0))
        busy = asyncio.create_task(batcher.run(["a"]))
        await _wait_started(recorder)
        same_batch = [asyncio.create_task(batcher.run([x])) for x in ("bad", "b")]
        later = asyncio.create_task(batcher.run(["c"]))
        await asyncio.sleep(0.02)
        gate.set()
        outcomes = await asyncio.gather(busy, *same_batch, later, return_exceptions=True)
        after = await batcher.run(["d"])
        await batcher.close()
        return recorder, [*outcomes, after]

    recorder, outcomes = asyncio.run(main())
    assert recorder.batches == [["a"], ["bad", "b"], ["c"], ["d"]]
    assert outcomes[0] == ["aa"]
    for failed in outcomes[1:3]:
        assert isinstance(failed, ValueError) and "cannot process 'bad'" in str(failed)
    assert outcomes[3:] == [["cc"], ["dd"]]


def test_a_wrong_number_of_results_is_an_error_for_the_batch() -> None:
    async def main() -> None:
        batcher = await _started(MicroBatcher(lambda items: items[:-1], max_batch_size=4))
        with pytest.raises(RuntimeError, match="returned 1 results for 2 items"):
            await batcher.run([1, 2])
        await batcher.close()

    asyncio.run(main())


def test_close_finishes_queued_work_then_refuses_more() -> None:
    async def main() -> tuple[list, Recorder]:
        gate = threading.Event()
        recorder = Recorder(gate)
        executor = ThreadPoolExecutor(max_workers=1)
        batcher = await _started(
            MicroBatcher(recorder, max_batch_size=2, max_wait_s=0.0, executor=executor)
        )
        tasks = [asyncio.create_task(batcher.run([i])) for i in range(5)]
        await _wait_started(recorder)
        closing = asyncio.create_task(batcher.close())
        await asyncio.sleep(0.02)
        with pytest.raises(BatcherClosed):
            batcher.reserve(1)
        assert not closing.done()  # still draining
        gate.set()
        await closing
        executor.shutdown()
        return await asyncio.gather(*tasks), recorder

    results, recorder = asyncio.run(main())
    assert results == [[0], [2], [4], [6], [8]]
    assert sum(len(b) for b in recorder.batches) == 5


def test_batches_run_in_the_given_executor_thread() -> None:
    async def main() -> set[str]:
        names: set[str] = set()

        def fn(items: list) -> list:
            names.add(threading.current_thread().name)
            return items

        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        batcher = await _started(MicroBatcher(fn, max_batch_size=2, executor=executor))
        await asyncio.gather(*(batcher.run([i]) for i in range(6)))
        await batcher.close()
        executor.shutdown()
        return names

    names = asyncio.run(main())
    assert len(names) == 1 and next(iter(names)).startswith("model")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"max_wait_s": -1}, "max_wait_s"),
        ({"max_queue": 0}, "max_queue"),
    ],
)
def test_bad_settings_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MicroBatcher(lambda items: items, **options)
