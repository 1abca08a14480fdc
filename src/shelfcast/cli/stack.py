"""`shelfcast stack`: register the cloud ZenML stack and print what it still needs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from shelfcast.cli.common import console, reports_errors
from shelfcast.settings import load_settings

app = typer.Typer(help="ZenML stacks: register the cloud (Vertex AI) stack.", no_args_is_help=True)

STATUS_STYLE = {"done": "[green]done[/green]", "needed": "[red]needed[/red]"}


@app.command("vertex")
@reports_errors
def stack_vertex(
    bucket: Annotated[
        str, typer.Option(help="GCS bucket for artifacts (gs://BUCKET/zenml); name or gs://name.")
    ],
    project: Annotated[
        str | None, typer.Option(help="GCP project ID. Default: GCP_PROJECT / settings.")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="GCP region. Default: GCP_REGION / settings.")
    ] = None,
    mlflow_uri: Annotated[
        str | None,
        typer.Option(help="Remote MLflow tracking server. Default: MLFLOW_TRACKING_URI."),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            help="Artifact Registry repository. Default: REGION-docker.pkg.dev/P/shelfcast"
        ),
    ] = None,
    service_account: Annotated[
        str | None, typer.Option(help="Workload service account Vertex AI runs steps as.")
    ] = None,
    name: Annotated[str, typer.Option(help="Stack name.")] = "vertex_ai_stack",
    mlflow_secret: Annotated[
        str | None,
        typer.Option(help="ZenML secret with the MLflow credentials. Default: NAME_mlflow."),
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", help="Environment: development, testing, production.")
    ] = None,
) -> None:
    """Register the Vertex AI stack in ZenML (idempotent) and list what it still needs.

    Example: `shelfcast stack vertex --project my-proj --region europe-west2 --bucket
    my-proj-shelfcast --mlflow-uri https://mlflow.example.com --service-account
    shelfcast-pipelines@my-proj.iam.gserviceaccount.com`

    MLflow credentials come from MLFLOW_TRACKING_USERNAME/PASSWORD (or _TOKEN) and are kept in
    a ZenML secret; without them an auth-less server is assumed. Nothing runs on GCP here.
    """
    from shelfcast.training.stack import register_vertex_stack

    settings = load_settings(environment=env)
    with console.status("Registering the Vertex AI stack in ZenML"):
        plan = register_vertex_stack(
            settings,
            project=project,
            region=region,
            bucket=bucket,
            mlflow_uri=mlflow_uri,
            registry_uri=registry,
            service_account=service_account,
            name=name,
            mlflow_secret=mlflow_secret,
        )

    table = Table(title=f"Stack {plan.stack!r} ({plan.action}) in {plan.store}")
    for column in ("component", "name", "flavor", "configuration", "action"):
        table.add_column(column, overflow="fold")
    for c in plan.components:
        config = "\n".join(f"{k}={v}" for k, v in c.configuration.items())
        table.add_row(c.type, c.name, c.flavor, config, c.action)
    console.print(table)
    console.print(f"MLflow credentials: {plan.mlflow_credentials}", highlight=False)

    needed = Table(title="Still needed before the stack can run")
    needed.add_column("status")
    needed.add_column("what")
    needed.add_column("detail")
    for r in plan.still_needed:
        needed.add_row(STATUS_STYLE.get(r.status, "[yellow]verify[/yellow]"), r.what, r.detail)
    console.print(needed)
    commands = [cmd for r in plan.pending for cmd in r.commands]
    if commands:
        console.print("[bold]Commands[/bold] (review, then run with gcloud / zenml):")
        for cmd in commands:
            console.print(f"  {cmd}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"Then: {plan.activate}  (and DEPLOYMENT_ENV=production)", highlight=False)
