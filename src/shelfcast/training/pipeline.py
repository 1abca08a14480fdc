"""`book_sales_training`: the ZenML training pipeline.

    load_data -> validate_data -> build_series -> select_titles -> train_titles -> evaluate
              -> register -> link_mlflow_run

For the catalogue model (`catalogue`), `plan_catalogue` picks the titles to refit after
`select_titles`, and `register_catalogue` registers one catalogue version in place of
`register`.

Importing this module imports ZenML: call `shelfcast.training.zenml_env.setup_zenml` first
(`shelfcast.training.run.run_training` does). The orchestrator is the stack's; on the default
local stack steps run one after another in this process, as the SQLite store wants.
"""

from typing import Any

from zenml import pipeline

from shelfcast.training.steps import (
    build_series,
    evaluate,
    link_mlflow_run,
    load_data,
    plan_catalogue,
    register,
    register_catalogue,
    remember_failure,
    select_titles,
    train_titles,
    validate_data,
)


@pipeline(enable_cache=True, on_failure=remember_failure)
def book_sales_training(
    sales_files: list[str],
    isbn_list: str | None,
    start_date: str | None,
    isbns: list[str] | None,
    max_titles: int,
    always_include: list[str],
    all_titles: bool = False,
    fit_config: dict[str, Any] | None = None,
    executor: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    catalogue: bool = False,
    full: bool = False,
) -> None:
    """Train, evaluate and register a forecasting model per selected title.

    `start_date`, `max_titles` and `always_include` come from the settings (`run_training`):
    `data.start_date`, `selection.max_seasonal_books`, `selection.default_test_isbns`.
    `fit_config` holds `FitConfig` fields; `executor` is `{"workers": N}` or
    `{"dask_scheduler": ADDRESS}` (not part of any cache key); `settings` are the Shelfcast
    settings the registry uses (`steps.registry_settings`), None to load them in the step.
    `catalogue` registers one version of the catalogue model, refitting only the titles
    whose content hash changed (every title with `full`), in place of a model per title.
    """
    fingerprint, sources = load_data(sales_files=sales_files, isbn_list=isbn_list)
    sales, _validation = validate_data(fingerprint=fingerprint, sources=sources)
    series = build_series(sales=sales, start_date=start_date)
    selected, _selection, counts = select_titles(
        series=series,
        isbns=isbns,
        max_titles=max_titles,
        always_include=always_include,
        all_titles=all_titles,
    )
    fitting = train_titles.with_options(extra={"executor": executor or {}})
    if catalogue:
        refit, plan, pool_plan = plan_catalogue(
            series=series,
            selected=selected,
            fit_config=fit_config or {},
            full=full,
            settings=settings,
        )
        training = fitting(
            series=series,
            selected=refit,
            fit_config=fit_config or {},
            pooled_over=selected,
            pool_plan=pool_plan,
            settings=settings,
        )
        evaluate(training=training)
        registration = register_catalogue(
            training=training,
            plan=plan,
            fingerprint=fingerprint,
            sources=sources,
            settings=settings,
        )
        link_mlflow_run(registration=registration, fingerprint=fingerprint)
        return
    training = fitting(series=series, selected=selected, fit_config=fit_config or {})
    evaluate(training=training)
    registration = register(
        training=training,
        sales=sales,
        fingerprint=fingerprint,
        sources=sources,
        counts=counts,
        settings=settings,
    )
    link_mlflow_run(registration=registration, fingerprint=fingerprint)
