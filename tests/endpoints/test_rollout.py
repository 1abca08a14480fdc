"""The guarded rollout, against an in-memory backend: checks, traffic, clean-up, rollback."""

from dataclasses import replace

import pytest
from support.memory_backend import MemoryBackend
from support.releases import described_release

from shelfcast.endpoints.base import (
    FAILED,
    STARTING,
    DeploymentFailed,
    EndpointError,
    TrafficSplitError,
    check_split,
)
from shelfcast.endpoints.rollout import (
    STAGING_SUFFIX,
    deploy_release,
    promote,
    rollback,
    smoke_test,
)
from shelfcast.releases import Release

NAME = "book-sales"
ISBNS = ("9780722532935", "9780241003008", "9780141439518")


def make_release(release_id: str, version: int = 1, isbns=ISBNS) -> Release:
    return described_release(release_id, version, isbns, "/store")


R1, R2, R3 = make_release("r1", 1), make_release("r2", 2), make_release("r3", 3)


def serving_release(backend: MemoryBackend, name: str = NAME) -> str | None:
    serving = backend.describe(name).serving()
    return serving.release_id if serving else None


def test_first_deploy_checks_then_takes_all_traffic():
    backend = MemoryBackend()
    result = deploy_release(backend, NAME, R1)

    assert result.action == "deployed"
    assert result.endpoint.traffic == {result.deployed_model.id: 100}
    assert result.previous is None
    assert [c.split(":")[0] for c in result.checks] == ["health", "smoke"]
    deploy, smoke, traffic = backend.operations[1:]
    assert deploy == ("deploy", NAME, "dm-1")
    assert smoke == ("predict", NAME, "dm-1")  # aimed at the new model before it has traffic
    assert traffic == ("traffic", NAME, "dm-1=100")


def test_redeploys_keep_only_the_previous_model():
    backend = MemoryBackend()
    first = deploy_release(backend, NAME, R1).deployed_model
    second = deploy_release(backend, NAME, R2)
    assert second.previous.id == first.id
    assert {m.id for m in second.endpoint.deployed_models} == {first.id, "dm-2"}
    assert second.undeployed == ()

    third = deploy_release(backend, NAME, R3)
    assert third.undeployed == (first.id,)
    assert {m.release_id for m in third.endpoint.deployed_models} == {"r2", "r3"}
    assert serving_release(backend) == "r3"


def test_deploying_the_release_already_serving_changes_nothing():
    backend = MemoryBackend()
    deploy_release(backend, NAME, R1)
    before = list(backend.operations)

    result = deploy_release(backend, NAME, R1)

    assert result.action == "unchanged"
    assert backend.operations == before


def test_the_next_deploy_cleans_up_what_an_interrupted_one_left():
    backend = MemoryBackend()
    deploy_release(backend, NAME, R1)
    backend.deploy(NAME, R2)  # started, never checked nor given traffic
    result = deploy_release(backend, NAME, R3)
    assert result.undeployed == ("dm-2",)
    assert {m.release_id for m in result.endpoint.deployed_models} == {"r1", "r3"}


@pytest.mark.parametrize("state", [FAILED, STARTING])
def test_an_unhealthy_model_stops_the_rollout_and_traffic_stays(state):
    backend = MemoryBackend(health={"r2": state})
    deploy_release(backend, NAME, R1)
    before = backend.describe(NAME).traffic

    with pytest.raises(DeploymentFailed) as failure:
        deploy_release(backend, NAME, R2, health_timeout=0.3)

    assert failure.value.check == "health"
    assert f"is {state}" in failure.value.reason
    endpoint = backend.describe(NAME)
    assert endpoint.traffic == before
    assert [m.release_id for m in endpoint.deployed_models] == ["r1"]  # the failed one is gone
    assert ("predict", NAME, "dm-2") not in backend.operations  # never smoke-tested


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("negative", "lo_95 is negative (-1.0)"),
        ("nan", "mean is nan"),
        ("undated", "week_ending None is not a date"),
        ("not-saturday", "week_ending 2024-08-18 is not a Saturday"),
        ("gap", "week_ending 2024-08-24 does not follow 2024-08-10"),
        ("disordered", "lo_80 103.0 > mean 102.0"),
        ("error", "error {'field': 'isbn', 'reason': 'unknown title'}"),
        ("stale", "served by arima_book_9780722532935 v0, expected arima_book_9780722532935 v2"),
    ],
)
def test_a_bad_forecast_fails_the_smoke_test_and_traffic_stays(fault, reason):
    backend = MemoryBackend(faults={"r2": fault})
    first = deploy_release(backend, NAME, R1).deployed_model

    with pytest.raises(DeploymentFailed) as failure:
        deploy_release(backend, NAME, R2)

    assert failure.value.check == "smoke"
    assert f"3 of 3 title(s) failed: {ISBNS[0]}: " in failure.value.reason
    assert reason in failure.value.reason
    endpoint = backend.describe(NAME)
    assert endpoint.traffic == {first.id: 100}
    assert [m.id for m in endpoint.deployed_models] == [first.id]


def test_a_failed_first_deploy_leaves_the_endpoint_empty():
    backend = MemoryBackend(faults={"r1": "negative"})
    with pytest.raises(DeploymentFailed):
        deploy_release(backend, NAME, R1)
    endpoint = backend.describe(NAME)
    assert endpoint.traffic == {}
    assert endpoint.deployed_models == ()


def test_smoke_test_asks_in_batches_and_checks_every_title(monkeypatch):
    monkeypatch.setattr("shelfcast.endpoints.rollout.SMOKE_BATCH", 2)
    backend = MemoryBackend()
    deploy_release(backend, NAME, R1)
    predicts = [op for op in backend.operations if op[0] == "predict"]
    assert len(predicts) == 2  # 3 titles, 2 per request
    assert smoke_test(backend, NAME, R1) == "smoke: 3 title(s) x 32 weeks passed"


def test_canary_shares_traffic_until_promoted():
    backend = MemoryBackend()
    first = deploy_release(backend, NAME, R1).deployed_model

    canary = deploy_release(backend, NAME, R2, canary=10)

    assert canary.action == "canary"
    new = canary.deployed_model
    assert canary.endpoint.traffic == {new.id: 10, first.id: 90}

    promoted = promote(backend, NAME)
    assert promoted.endpoint.traffic == {new.id: 100}
    assert promoted.previous.id == first.id
    assert {m.id for m in promoted.endpoint.deployed_models} == {first.id, new.id}


def test_a_new_canary_replaces_the_old_one():
    backend = MemoryBackend()
    first = deploy_release(backend, NAME, R1).deployed_model
    old = deploy_release(backend, NAME, R2, canary=20).deployed_model

    new = deploy_release(backend, NAME, R3, canary=30)

    assert new.endpoint.traffic == {new.deployed_model.id: 30, first.id: 70}
    assert new.undeployed == (old.id,)


def test_rollback_of_a_canary_gives_everything_back():
    backend = MemoryBackend()
    first = deploy_release(backend, NAME, R1).deployed_model
    deploy_release(backend, NAME, R2, canary=25)

    result = rollback(backend, NAME)

    assert result.endpoint.traffic == {first.id: 100}


def test_rollback_returns_to_the_previous_model_and_no_further():
    backend = MemoryBackend()
    first = deploy_release(backend, NAME, R1).deployed_model
    second = deploy_release(backend, NAME, R2).deployed_model

    result = rollback(backend, NAME)

    assert result.endpoint.traffic == {first.id: 100}
    assert result.previous.id == second.id
    with pytest.raises(EndpointError, match="no deployed model older than"):
        rollback(backend, NAME)
    assert backend.describe(NAME).traffic == {first.id: 100}


def test_rollback_refuses_an_unhealthy_previous_model():
    backend = MemoryBackend()
    first = deploy_release(backend, NAME, R1).deployed_model
    second = deploy_release(backend, NAME, R2).deployed_model
    endpoint = backend.endpoints[NAME]
    models = tuple(
        replace(m, state=FAILED) if m.id == first.id else m for m in endpoint.deployed_models
    )
    backend.endpoints[NAME] = replace(endpoint, deployed_models=models)

    with pytest.raises(DeploymentFailed, match="is failed"):
        rollback(backend, NAME)
    assert backend.describe(NAME).traffic == {second.id: 100}


def test_promote_without_a_canary_is_an_error():
    backend = MemoryBackend()
    deploy_release(backend, NAME, R1)
    with pytest.raises(EndpointError, match="no canary"):
        promote(backend, NAME)


def test_canary_share_must_be_a_percentage():
    with pytest.raises(EndpointError, match="1 to 99"):
        deploy_release(MemoryBackend(), NAME, R1, canary=100)


class TestWithoutAimedPredictions:
    """A backend that routes by the split only: the smoke test runs on a staging endpoint."""

    def test_the_release_reaches_the_endpoint_only_after_passing_on_staging(self):
        backend = MemoryBackend(targets_deployed_models=False)
        result = deploy_release(backend, NAME, R1)

        staging = NAME + STAGING_SUFFIX
        kinds = [op[:2] for op in backend.operations]
        assert kinds.index(("predict", staging)) < kinds.index(("deploy", NAME))
        assert backend.describe(staging).deployed_models == ()
        assert result.endpoint.traffic == {result.deployed_model.id: 100}
        assert any(check.endswith(f"(on {staging})") for check in result.checks)

    def test_a_failure_on_staging_never_touches_the_endpoint(self):
        backend = MemoryBackend(faults={"r2": "nan"}, targets_deployed_models=False)
        first = deploy_release(backend, NAME, R1).deployed_model

        with pytest.raises(DeploymentFailed, match="smoke"):
            deploy_release(backend, NAME, R2)

        assert backend.describe(NAME).traffic == {first.id: 100}
        assert [m.id for m in backend.describe(NAME).deployed_models] == [first.id]
        assert backend.describe(NAME + STAGING_SUFFIX).deployed_models == ()


def test_traffic_splits_are_checked():
    backend = MemoryBackend()
    endpoint = deploy_release(backend, NAME, R1).endpoint
    with pytest.raises(TrafficSplitError, match="sum to 100"):
        check_split(endpoint, {"dm-1": 90})
    with pytest.raises(TrafficSplitError, match="unknown deployed model"):
        check_split(endpoint, {"dm-9": 100})
    assert check_split(endpoint, {"dm-1": 100}) == {"dm-1": 100}
