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


class Coalescer:
    """Answers requests' tasks (on the event loop, or a large batch in a worker thread), those
    of requests waiting meanwhile together. Used from one event loop."""

    def __init__(self) -> None:
        self._waiting: list[tuple[ModelPool, Sequence[Task], asyncio.Future[None]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def answer(self, pool: ModelPool, tasks: Sequence[Task]) -> None:
        """`answer_tasks(pool, tasks)`, with the tasks of the requests waiting beside it."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((pool, tasks, done))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        try:
            while self._waiting:
                pool = self._waiting[0][0]  # a new release's requests wait for the next batch
                batch = [w for w in self._waiting if w[0] is pool]
                self._waiting = [w for w in self._waiting if w[0] is not pool]
                every = [task for _, tasks, _ in batch for task in tasks]
                try:
                    if len(every) <= INLINE_TITLES:
                        answer_tasks(pool, every)
                    else:
                        await anyio.to_thread.run_sync(answer_tasks, pool, every)
                except Exception as exc:  # each request's handler reports it
                    for _, _, done in batch:
                        if not done.done():  # not cancelled
                            done.set_exception(exc)
                else:
                    for _, _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._draining = None
