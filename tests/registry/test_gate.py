"""The promotion gate on plain data: every rule of `registry.gate.decide`, no MLflow."""

import ast
from datetime import date
from pathlib import Path

import pytest

from shelfcast.registry import gate
from shelfcast.registry.gate import (
    GateDecision,
    NotScored,
    OnBacktest,
    OnWindow,
    SameModel,
    decide,
)

NAN, INF = float("nan"), float("inf")
SPAN = "the newest 4 weeks (2024-01-06..2024-01-27)"


def window(new_mase, old_mase, new_mae=None, old_mae=None) -> OnWindow:
    return OnWindow(
        weeks=4,
        first=date(2024, 1, 6),
        last=date(2024, 1, 27),
        challenger_mase=new_mase,
        incumbent_mase=old_mase,
        challenger_mae=new_mae,
        incumbent_mae=old_mae,
    )


# ---------------------------------------------------------------------------- no champion


@pytest.mark.parametrize("version, evidence", [(None, None), (None, window(9.0, 1.0)), ("3", None)])
def test_without_a_champion_the_new_version_takes_it(version, evidence):
    assert decide(version, evidence, 0.0) == GateDecision(True, "no champion yet")
    assert decide(version, evidence, 0.5).promote  # whatever the margin


# ---------------------------------------------------------------------------- the newest window


def test_a_better_new_version_takes_champion():
    decision = decide("3", window(0.8, 1.0), 0.0)
    assert decision == GateDecision(
        True, f"MASE 0.8 beats champion v3's 1 on {SPAN}", 0.8, 1.0, "mase"
    )


def test_a_worse_new_version_keeps_the_champion():
    decision = decide("3", window(1.2, 1.0), 0.0)
    assert decision == GateDecision(
        False, f"MASE 1.2 does not beat champion v3's 1 on {SPAN}", 1.2, 1.0, "mase"
    )


def test_scores_are_shown_to_four_significant_digits():
    decision = decide("12", window(0.123456, 0.98765), 0.0)
    assert decision.reason == f"MASE 0.1235 beats champion v12's 0.9877 on {SPAN}"
    assert (decision.challenger_score, decision.incumbent_score) == (0.123456, 0.98765)


def test_a_tie_keeps_the_champion():
    decision = decide("3", window(1.0, 1.0), 0.0)
    assert not decision.promote
    assert decision.reason == f"MASE 1 does not beat champion v3's 1 on {SPAN}"  # no margin


def test_the_new_version_must_beat_the_minimum_improvement():
    within = decide("3", window(0.95, 1.0), 0.1)  # 5% better, 10% needed
    assert not within.promote
    assert within.reason == f"MASE 0.95 does not beat champion v3's 1 on {SPAN} (needs < 0.9 x)"
    at_the_bar = decide("3", window(0.9, 1.0), 0.1)  # strictly below the bar to win
    assert not at_the_bar.promote
    beyond = decide("3", window(0.89, 1.0), 0.1)
    assert beyond.promote and beyond.reason.endswith("(needs < 0.9 x)")
    assert decide("3", window(0.97, 1.0), 0.02).reason.endswith("(needs < 0.98 x)")


def test_after_an_alert_a_tie_goes_to_the_new_version():
    """A retrain after an alert gates with a negative margin (monitoring.retrain: -5%): the
    new version wins a tie and anything up to 5% worse, not more."""
    tie = decide("3", window(1.0, 1.0), -0.05)
    assert tie.promote
    assert tie.reason == f"MASE 1 beats champion v3's 1 on {SPAN} (needs < 1.05 x)"
    assert decide("3", window(1.04, 1.0), -0.05).promote
    assert not decide("3", window(1.06, 1.0), -0.05).promote
    assert not decide("3", window(1.0, 1.0), 0.0).promote  # without the alert rule: kept


@pytest.mark.parametrize("new, old", [(None, 1.0), (1.0, None), (NAN, 1.0), (1.0, NAN), (INF, 1)])
def test_an_undefined_mase_hands_the_decision_to_mae(new, old):
    decision = decide("3", window(new, old, new_mae=4.0, old_mae=5.0), 0.0)
    assert decision == GateDecision(True, f"MAE 4 beats champion v3's 5 on {SPAN}", 4.0, 5.0, "mae")
    worse = decide("3", window(new, old, new_mae=6.0, old_mae=5.0), 0.0)
    assert (worse.promote, worse.metric) == (False, "mae")


@pytest.mark.parametrize("new_mae, old_mae", [(None, 5.0), (4.0, None), (NAN, NAN), (None, None)])
def test_with_neither_mase_nor_mae_the_champion_is_kept(new_mae, old_mae):
    decision = decide("3", window(NAN, 1.0, new_mae=new_mae, old_mae=old_mae), 0.0)
    assert decision == GateDecision(False, f"MAE undefined on {SPAN}; champion v3 kept")
    assert decide("3", window(NAN, 1.0, new_mae, old_mae), -0.05).promote is False


def test_mae_is_not_consulted_while_mase_decides():
    decision = decide("3", window(2.0, 1.0, new_mae=NAN, old_mae=None), 0.0)
    assert (decision.promote, decision.metric) == (False, "mase")


# ---------------------------------------------------------------------------- other evidence


def test_the_same_model_keeps_the_champion_whatever_the_margin():
    for margin in (0.0, 0.1, -0.05):
        assert decide("3", SameModel(), margin) == GateDecision(
            False, "same model as champion v3 (identical parameters); kept"
        )


def test_a_champion_that_cannot_be_scored_is_replaced():
    decision = decide("3", NotScored(4, "bundle.json is missing"), 0.1)
    assert decision == GateDecision(
        True,
        "champion v3 could not be scored on the newest 4 weeks (bundle.json is missing); replaced",
    )


def test_without_a_window_the_backtest_mase_decides():
    better = decide("3", OnBacktest(0.5, 1.0), 0.0)
    assert better == GateDecision(
        True,
        "no holdout window; backtest MASE 0.5 beats champion v3's 1",
        0.5,
        1.0,
        "backtest_mase",
    )
    within = decide("3", OnBacktest(0.95, 1.0), 0.1)
    assert not within.promote
    assert within.reason == (
        "no holdout window; backtest MASE 0.95 does not beat champion v3's 1 (needs < 0.9 x)"
    )
    assert not decide("3", OnBacktest(1.0, 1.0), 0.0).promote  # a tie keeps the champion
    assert decide("3", OnBacktest(1.0, 1.0), -0.05).promote  # unless after an alert


@pytest.mark.parametrize("new, old", [(None, 1.0), (1.0, None), (NAN, 1.0), (1.0, INF)])
def test_without_a_window_a_missing_backtest_mase_keeps_the_champion(new, old):
    assert decide("3", OnBacktest(new, old), 0.0) == GateDecision(
        False, "no holdout window and no backtest MASE to compare with champion v3; kept"
    )


# ---------------------------------------------------------------------------- purity


@pytest.mark.parametrize("module", ["gate", "history", "values", "challenge", "errors"])
def test_the_pure_modules_import_nothing_of_mlflow(module):
    path = Path(gate.__file__).with_name(f"{module}.py")
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {m for m in imported if m.split(".")[0] == "mlflow"}
