"""Turning request instances into answers: validation, title lookup and forecasting.

Shared by the prediction server and batch forecasts; free of any web framework.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from shelfcast.errors import ForecastError
from shelfcast.serving.pool import (
    InstanceProblem,
    ModelPool,
    ServedModel,
    UnknownTitle,
    check_actuals,
    quantile_key,
)
from shelfcast.serving.schemas import Instance, Parameters

Problem = tuple[str, str]  # (field, reason)


@dataclass
class Task:
    """One instance, validated and resolved, or the errors in its place."""

    index: int
    model: ServedModel | None = None
    horizon: int = 0
    levels: tuple[int, ...] = ()
    quantiles: tuple[float, ...] = ()
    actuals: list[tuple[date, float]] = field(default_factory=list)
    result: bytes | None = None
    errors: list[Problem] = field(default_factory=list)  # every problem found, in order
    kind: str = ""

    @property
    def error(self) -> Problem | None:
        """The first problem (the one an instance's error object leads with)."""
        return self.errors[0] if self.errors else None

    def fail(self, kind: str, *problems: Problem) -> None:
        self.errors, self.kind = list(problems), kind


def resolve_instances(
    instances: Sequence[Any], parameters: Parameters, pool: ModelPool
) -> list[Task]:
    """Each instance validated and its title found, or the error in its place."""
    tasks = []
    for i, raw in enumerate(instances):
        task = Task(index=i)
        tasks.append(task)
        if not isinstance(raw, dict):
            task.fail("invalid_instance", (f"instances[{i}]", "must be an object"))
            continue
        try:
            instance = Instance.model_validate(raw)
        except ValidationError as exc:
            problems = validation_errors(exc)
            task.fail("invalid_instance", *((f"instances[{i}]{w}", r) for w, r in problems))
            continue
        try:
            task.model = pool.get(instance.title, instance.title_field)
        except UnknownTitle as exc:
            task.fail("unknown_title", (f"instances[{i}].{exc.field}", exc.reason))
            continue
        task.horizon = instance.horizon or parameters.horizon
        task.levels = tuple(instance.level or parameters.level)
        quantiles = parameters.quantiles if instance.quantiles is None else instance.quantiles
        task.quantiles = quantile_key(quantiles or ())
        task.actuals = [(a.week_ending, a.volume) for a in instance.actuals]
    return tasks


def answer_tasks(pool: ModelPool, tasks: Sequence[Task]) -> None:
    """Forecast every resolved task into its `result` (JSON bytes), or set its error. Tasks
    asking the same horizon, levels and quantiles are forecast together (each title once per
    call); an instance that cannot be forecast gets its error, the others their answers."""
    calls: dict[tuple, list[tuple[set[str], list[Task]]]] = {}
    for task in tasks:
        if task.model is None:
            continue
        if task.actuals:
            try:
                check_actuals(task.model.bundle, task.actuals)
            except InstanceProblem as exc:
                where = f"instances[{task.index}].{exc.field}"
                task.fail("invalid_instance", (where, exc.reason))
                continue
        rounds = calls.setdefault((task.horizon, task.levels, task.quantiles), [])
        free = next((r for r in rounds if task.model.isbn not in r[0]), None)
        if free is None:
            rounds.append(free := (set(), []))
        free[0].add(task.model.isbn)
        free[1].append(task)
    for (horizon, levels, quantiles), rounds in calls.items():
        for _, group in rounds:
            results = pool.predictions_json(
                [(t.model, t.actuals) for t in group], horizon, levels, quantiles
            )
            for task, result in zip(group, results, strict=True):
                if isinstance(result, ForecastError):
                    where = ".actuals" if task.actuals else ""
                    problem = (f"instances[{task.index}]{where}", f"cannot forecast: {result}")
                    task.fail("forecast_failed", problem)
                else:
                    task.result = result


def validation_errors(exc: ValidationError) -> list[Problem]:
    """Every problem, in order, as (a path such as `.actuals[0].volume`, a reason)."""
    problems = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        problems.append((path, error["msg"].removeprefix("Value error, ")))
    return problems


def json_bytes(value: Any) -> bytes:
    """Compact JSON, as the server writes its answers."""
    return json.dumps(value, separators=(",", ":")).encode()
