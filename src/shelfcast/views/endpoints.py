"""Endpoints: rollouts and their plans, traffic, deployed models, per-title deploys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console

from shelfcast.views.common import Col, console, make_table, print_facts

if TYPE_CHECKING:
    from shelfcast.endpoints.base import Endpoint
    from shelfcast.endpoints.rollout import RolloutResult
    from shelfcast.lifecycle.deploy import DeployResult, DryRunPlan, PerTitleResult

CLIENTS_CALL = "URL clients call"
# endpoint statuses (local backend) that `list` shows beside the deployed models' states
PROBLEMS = frozenset({"router down", "degraded"})


def split_text(endpoint: Endpoint) -> str:
    """The traffic split in words: `dm-2 (r-...) 90%, dm-1 (r-...) 10%`, or `none`."""
    if not endpoint.traffic:
        return "none"
    by_id = {m.id: m for m in endpoint.deployed_models}
    return ", ".join(
        f"{k} ({by_id[k].release_id if k in by_id else '?'}) {v}%"
        for k, v in endpoint.traffic.items()
    )


def endpoint_url(endpoint: Endpoint) -> str:
    """The URL clients call, said as such (on the local backend: the router)."""
    if not endpoint.url:
        return "-"
    if endpoint.backend == "local":
        return f"{endpoint.url} (the router: it splits traffic between the deployed models)"
    return endpoint.url


def print_plan(plan: DryRunPlan, out: Console | None = None) -> None:
    out = out or console
    out.print(f"[bold]Plan[/bold] (Vertex AI, project {plan.project}, region {plan.region})")
    out.print(plan.calls, highlight=False, soft_wrap=True, markup=False)
    for line in plan.assumptions:
        out.print(f"[dim]- {line}[/dim]")


def print_deploy(result: DeployResult, out: Console | None = None) -> None:
    """A deploy's plan (dry run) and outcome."""
    if result.plan is not None:
        print_plan(result.plan, out)
    rollout, release = result.rollout, result.release
    endpoint, new = rollout.endpoint, rollout.deployed_model
    print_facts(
        [
            ("endpoint", f"{endpoint.name} ({endpoint.backend})"),
            ("release", f"{release.release_id}: {release.titles:,} title(s)"),
            ("outcome", rollout.action),
            ("deployed model", new.id if new else "-"),
            ("traffic", split_text(endpoint)),
            ("previous (kept)", rollout.previous.id if rollout.previous else "-"),
            ("undeployed", ", ".join(rollout.undeployed) or "-"),
            *((f"check {n}", check) for n, check in enumerate(rollout.checks, start=1)),
            (CLIENTS_CALL, endpoint_url(endpoint)),
            ("seconds", f"{rollout.seconds:.1f}"),
        ],
        out,
    )


def print_change(result: RolloutResult, out: Console | None = None) -> None:
    """A canary promotion or a rollback."""
    endpoint = result.endpoint
    print_facts(
        [
            ("endpoint", f"{endpoint.name} ({endpoint.backend})"),
            ("outcome", result.action),
            ("serving", result.deployed_model.release_id if result.deployed_model else "-"),
            ("traffic", split_text(endpoint)),
            ("from", result.previous.id if result.previous else "-"),
            ("undeployed", ", ".join(result.undeployed) or "-"),
            ("seconds", f"{result.seconds:.2f}"),
        ],
        out,
    )


def print_endpoints(endpoints: Sequence[Endpoint], out: Console | None = None) -> None:
    out = out or console
    columns = [
        Col("name"),
        Col("backend", drop=2),
        Col("serving release"),
        Col("traffic", wrap=True, drop=3),
        Col("models", justify="right", drop=1),
        Col("health"),
        Col(CLIENTS_CALL, wrap=True),
    ]
    rows = []
    for endpoint in endpoints:
        serving = endpoint.serving()
        states = sorted({m.state for m in endpoint.deployed_models})
        status = endpoint.detail.get("status")
        if status in PROBLEMS:  # the endpoint's own trouble, beside its models' states
            states.insert(0, str(status))
        rows.append(
            (
                endpoint.name,
                endpoint.backend,
                serving.release_id if serving else "-",
                split_text(endpoint),
                str(len(endpoint.deployed_models)),
                ", ".join(states) or "-",
                endpoint.url or "-",
            )
        )
    out.print(make_table(columns, rows, title="Endpoints", out=out))
    print_facts([("endpoints", str(len(endpoints)))], out)


def print_describe(endpoint: Endpoint, out: Console | None = None) -> None:
    """Deployed models, their direct (internal) URLs and details, traffic history, and the
    URL clients call."""
    out = out or console
    columns = [
        Col("deployed model"),
        Col("release"),
        Col("state"),
        Col("traffic", justify="right"),
        Col("created", wrap=True, drop=1),
    ]
    rows = [
        (
            model.id,
            model.release_id,
            model.state,
            f"{endpoint.traffic.get(model.id, 0)}%",
            model.created,
        )
        for model in endpoint.deployed_models
    ]
    out.print(make_table(columns, rows, title=f"{endpoint.name} ({endpoint.backend})", out=out))
    details = [
        (f"{model.id} {key}", str(value))
        for model in endpoint.deployed_models
        for key, value in (
            *((("direct URL (internal)", model.url),) if model.url else ()),
            *model.detail.items(),
        )
    ]
    if details:
        out.print("[bold]Deployed models[/bold]")
        print_facts(details, out)
    if any(m.url for m in endpoint.deployed_models):
        out.print(
            "A direct URL reaches one deployed model, bypassing the traffic split: for "
            f"checks, not for clients. Clients call {endpoint.url or 'the endpoint'}."
        )
    if endpoint.history:
        rows = [
            (
                change.time,
                ", ".join(f"{k} {v}%" for k, v in change.traffic.items()) or "none",
                change.note,
            )
            for change in endpoint.history[-10:]
        ]
        columns = [
            Col("time", wrap=True, drop=1),
            Col("traffic", wrap=True),
            Col("note", wrap=True),
        ]
        out.print(make_table(columns, rows, title="Traffic history (latest last)", out=out))
    print_facts(
        [
            (CLIENTS_CALL, endpoint_url(endpoint)),
            ("traffic", split_text(endpoint)),
            *((key, str(value)) for key, value in endpoint.detail.items()),
        ],
        out,
    )


def print_per_title(result: PerTitleResult, out: Console | None = None) -> None:
    out = out or console
    columns = [Col("model"), Col("endpoint"), Col("outcome", wrap=True)]
    rows = [(t.model_name, t.endpoint, t.outcome) for t in result.titles]
    title = f"Per-title endpoints from {result.release.release_id}"
    out.print(make_table(columns, rows, title=title, out=out))
