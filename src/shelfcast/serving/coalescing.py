"""Concurrent requests' uncached instances forecast together.

Forecasting many titles as arrays costs little more than one title (`forecasting.batch`), and
one process forecasts one batch at a time (the GIL). So while a batch is being forecast in a
worker thread, the requests that arrive wait, and are then answered together in one
`answer_tasks` call: at concurrency 32 a request's forecast shares the fixed cost with the
others waiting, instead of each paying it in turn.

A batch of at most `INLINE_TITLES` titles (a few milliseconds at most) is answered on the event
loop itself: handing it to a thread and back costs about what a one-title forecast does, and
the thread then contends with the loop for the interpreter lock. Larger batches go to a worker
thread, so that health and metrics stay responsive while they are forecast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import anyio.to_thread

from shelfcast.serving.answers import Task, answer_tasks
from shelfcast.serving.pool import ModelPool

INLINE_TITLES = 32

Waiting = tuple[ModelPool, Sequence[Task], "asyncio.Future[None]"]


class Coalescer:
    """Answers requests' tasks (on the event loop, or a large batch in a worker thread), those
    of requests waiting meanwhile together. Used from one event loop.

    The first request to wait schedules a drain with `call_soon`, so the requests read in the
    same turn of the loop are answered with it (no Task per drain: in-process, an uncached
    one-title request took 258 µs instead of 267)."""

    def __init__(self) -> None:
        self._waiting: list[Waiting] = []
        self._busy = False  # a drain is scheduled, running, or waiting for its worker thread
        self._thread: asyncio.Task[None] | None = None  # a large batch's, held while it runs

    async def answer(self, pool: ModelPool, tasks: Sequence[Task]) -> None:
        """`answer_tasks(pool, tasks)`, with the tasks of the requests waiting beside it."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._waiting.append((pool, tasks, done))
        if not self._busy:
            self._busy = True
            loop.call_soon(self._drain)
        await done

    def _drain(self) -> None:
        """Answer the waiting requests, a release's at a time: small batches here, a large one
        in a worker thread, after which the drain goes on."""
        try:
            while self._waiting:
                pool = self._waiting[0][0]  # a new release's requests wait for the next batch
                batch = [w for w in self._waiting if w[0] is pool]
                self._waiting = [w for w in self._waiting if w[0] is not pool]
                every = [task for _, tasks, _ in batch for task in tasks]
                if len(every) > INLINE_TITLES:
                    self._thread = asyncio.ensure_future(self._in_thread(pool, every, batch))
                    return
                try:
                    answer_tasks(pool, every)
                except Exception as exc:  # each request's handler reports it
                    _settle(batch, exc)
                else:
                    _settle(batch, None)
        finally:
            self._busy = self._thread is not None  # still busy while a worker thread runs

    async def _in_thread(self, pool: ModelPool, every: list[Task], batch: list[Waiting]) -> None:
        try:
            await anyio.to_thread.run_sync(answer_tasks, pool, every)
        except Exception as exc:
            _settle(batch, exc)
        except BaseException:  # cancelled: the loop is closing
            self._thread, self._busy = None, False
            raise
        else:
            _settle(batch, None)
        self._thread = None
        self._drain()


def _settle(batch: list[Waiting], error: Exception | None) -> None:
    """Each waiting request's future done (unless it was cancelled), with `error` if any."""
    for _, _, done in batch:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
