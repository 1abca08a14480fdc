"""Request and response bodies of the prediction server (Vertex AI's custom-container shape).

The predict route parses instances one by one with `Instance`, so that a bad instance gets an
error object in its place while the others are answered; `PredictRequest` describes the whole
body for the OpenAPI schema and for clients.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shelfcast.forecasting.bundle import MAX_HORIZON
from shelfcast.forecasting.calibration import TAUS

MAX_LEVELS = 5
MAX_QUANTILES = 20
MAX_ACTUALS = 520  # ten years of weeks
MAX_VOLUME = 1e9
MAX_INSTANCES = 1000
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    """Dates only as `YYYY-MM-DD` text (not numbers, not datetimes)."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


WeekEnding = Annotated[date, BeforeValidator(_iso_date)]
Horizon = Annotated[
    int, Field(strict=True, ge=1, le=MAX_HORIZON, description="Weeks to forecast, 1 to 260.")
]
Level = Annotated[int, Field(strict=True, ge=1, le=99)]
Levels = Annotated[
    list[Level],
    Field(
        min_length=1,
        max_length=MAX_LEVELS,
        description="Interval levels in percent, e.g. [80, 95].",
    ),
]
Quantile = Annotated[float, Field(strict=True, ge=TAUS[0], le=TAUS[-1], allow_inf_nan=False)]
Quantiles = Annotated[
    list[Quantile],
    Field(
        max_length=MAX_QUANTILES,
        description=f"Quantiles to forecast, each from {TAUS[0]} to {TAUS[-1]}, e.g. "
        "[0.1, 0.5, 0.9]: each week then has p10, p50 and p90. [] asks for none.",
    ),
]


class Actual(BaseModel):
    """A week of actual sales newer than (or correcting) the model's history."""

    model_config = ConfigDict(extra="forbid")

    week_ending: WeekEnding = Field(
        description="A week ending of the title's series (a Saturday for BookScan titles), "
        "not before its first week and at most 260 weeks after its last."
    )
    volume: float = Field(strict=True, ge=0, le=MAX_VOLUME, allow_inf_nan=False)


def _one_title(schema: dict[str, Any]) -> None:
    """In the schema as in validation: exactly one of `isbn` and `model_name`, as text."""
    for name in ("isbn", "model_name"):
        prop = schema["properties"][name]
        text = next(s for s in prop.pop("anyOf") if s.get("type") == "string")
        prop.update(text)
    schema["oneOf"] = [{"required": ["isbn"]}, {"required": ["model_name"]}]


class Instance(BaseModel):
    """One title to forecast, named by ISBN or by registered model name (exactly one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_title)

    isbn: str | None = Field(default=None, min_length=1, max_length=64, examples=["9780722532935"])
    model_name: str | None = Field(
        default=None, min_length=1, max_length=128, examples=["arima_book_9780722532935"]
    )
    horizon: Horizon | None = None
    level: Levels | None = None
    quantiles: Quantiles | None = None
    actuals: list[Actual] = Field(default_factory=list, max_length=MAX_ACTUALS)

    @model_validator(mode="after")
    def _names_a_title(self) -> Instance:
        given = {"isbn", "model_name"} & self.model_fields_set
        if len(given) != 1 or (self.isbn is None and self.model_name is None):
            raise ValueError("give exactly one of isbn and model_name, as text")
        return self

    @property
    def title(self) -> str:
        return self.isbn if self.isbn is not None else str(self.model_name)

    @property
    def title_field(self) -> str:
        return "isbn" if self.isbn is not None else "model_name"


class Parameters(BaseModel):
    """Defaults for instances that do not set them; those not given here are the server's
    (the settings' `serving.horizon`, `serving.levels` and `serving.quantiles`)."""

    model_config = ConfigDict(extra="forbid")

    horizon: Horizon | None = None
    level: Levels | None = None
    quantiles: Quantiles | None = None

    def or_defaults(
        self, horizon: int, levels: Sequence[int], quantiles: Sequence[float]
    ) -> Parameters:
        """These parameters, with `horizon`, `levels` and `quantiles` where not given."""
        return Parameters(
            horizon=self.horizon or horizon,
            level=self.level or list(levels),
            quantiles=list(quantiles) if self.quantiles is None else self.quantiles,
        )


class PredictRequest(BaseModel):
    """The body of a prediction request."""

    instances: list[Instance] = Field(min_length=1, max_length=MAX_INSTANCES)
    parameters: Parameters = Field(default_factory=Parameters)


class Week(BaseModel):
    """A forecast week: the point forecast, `lo_L`, `hi_L` for every requested level L and
    `pQ` for every requested quantile (`p10` for 0.1, `p2.5` for 0.025)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    week_ending: date
    mean: float


class Prediction(BaseModel):
    isbn: str
    model_name: str
    model_version: str
    model_family: str
    weeks: list[Week]


class ErrorDetail(BaseModel):
    field: str = Field(description="Where the problem is, e.g. instances[1].horizon.")
    reason: str


class InstanceError(BaseModel):
    """In place of a prediction for an instance that could not be answered."""

    error: ErrorDetail
    errors: list[ErrorDetail] | None = Field(
        default=None,
        description="Every problem of the instance (the first 10), when it has several; "
        "`error` is the first.",
    )


class PredictResponse(BaseModel):
    predictions: list[Prediction | InstanceError]
    deployedModelId: str | None = None


class ErrorResponse(BaseModel):
    """A request that was refused whole; `predictions` when every instance failed."""

    error: ErrorDetail
    errors: list[ErrorDetail] | None = Field(
        default=None,
        description="Every problem found (the first 100), when there were several: unknown "
        "fields, bad parameters, each bad field of each instance; `error` is the first.",
    )
    predictions: list[InstanceError] | None = None


class Health(BaseModel):
    status: str = Field(description="loading, ready or failed")
    release: str | None = None
    loaded: int = 0
    total: int | None = None
    reason: str | None = None
