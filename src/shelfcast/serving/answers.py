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
from shelfcast.serving.pool import InstanceProblem, ModelPool, ServedModel, UnknownTitle
from shelfcast.serving.schemas import Instance, Parameters


@dataclass
class Task:
    """One instance, validated and resolved, or the error in its place."""

    index: int
    model: ServedModel | None = None
    horizon: int = 0
    levels: tuple[int, ...] = ()
    actuals: list[tuple[date, float]] = field(default_factory=list)
    result: bytes | None = None
    error: tuple[str, str] | None = None  # field, reason
    kind: str = ""


def resolve_instances(
    instances: Sequence[Any], parameters: Parameters, pool: ModelPool
) -> list[Task]:
    """Each instance validated and its title found, or the error in its place."""
    tasks = []
    for i, raw in enumerate(instances):
        task = Task(index=i)
        tasks.append(task)
        if not isinstance(raw, dict):
            task.error, task.kind = (f"instances[{i}]", "must be an object"), "invalid_instance"
            continue
        try:
            instance = Instance.model_validate(raw)
        except ValidationError as exc:
            where, reason = first_error(exc)
            task.error, task.kind = (f"instances[{i}]{where}", reason), "invalid_instance"
            continue
        try:
            task.model = pool.get(instance.title, instance.title_field)
        except UnknownTitle as exc:
            task.error, task.kind = (f"instances[{i}].{exc.field}", exc.reason), "unknown_title"
            continue
        task.horizon = instance.horizon or parameters.horizon
        task.levels = tuple(instance.level or parameters.level)
        task.actuals = [(a.week_ending, a.volume) for a in instance.actuals]
    return tasks


def answer_tasks(pool: ModelPool, tasks: Sequence[Task]) -> None:
    """Forecast every resolved task into its `result` (JSON bytes), or set its error."""
    for task in tasks:
        if task.model is None:
            continue
        try:
            task.result = pool.prediction_json(task.model, task.horizon, task.levels, task.actuals)
        except InstanceProblem as exc:
            task.error = (f"instances[{task.index}].{exc.field}", exc.reason)
            task.kind = "invalid_instance"
        except ForecastError as exc:
            where = ".actuals" if task.actuals else ""
            task.error = (f"instances[{task.index}]{where}", f"cannot forecast: {exc}")
            task.kind = "forecast_failed"


def first_error(exc: ValidationError) -> tuple[str, str]:
    """The first problem as (a path such as `.actuals[0].volume`, a reason)."""
    error = exc.errors(include_url=False, include_context=False, include_input=False)[0]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
    return path, error["msg"].removeprefix("Value error, ")


def json_bytes(value: Any) -> bytes:
    """Compact JSON, as the server writes its answers."""
    return json.dumps(value, separators=(",", ":")).encode()
