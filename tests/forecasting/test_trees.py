import json

import numpy as np
import pytest

from shelfcast.forecasting import trees

lgb = pytest.importorskip("lightgbm")


def _booster(x: np.ndarray, y: np.ndarray, **params) -> "lgb.Booster":
    base = {"verbose": -1, "num_threads": 1, "seed": 1, "deterministic": True}
    return lgb.train({**base, **params}, lgb.Dataset(x, y), num_boost_round=30)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    x[:, 3] = rng.integers(0, 3, n)  # many exact zeros
    y = np.nan_to_num(x[:, 0]) * 2 + np.nan_to_num(x[:, 1]) ** 2 + x[:, 3] + rng.normal(size=n)
    x[rng.random(x.shape) < 0.15] = np.nan
    return x, y


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 15, "min_data_in_leaf": 10},
        {"num_leaves": 7, "use_missing": False},  # missing type None: NaN compared as 0
        {"num_leaves": 7, "zero_as_missing": True},  # missing type Zero
    ],
)
def test_the_forest_predicts_as_lightgbm_with_missing_values(params):
    x, y = _data(2000, 0)
    booster = _booster(x, y, **params)
    forest = trees.from_lightgbm(booster.dump_model())
    new, _ = _data(3000, 1)
    new[:5] = np.nan  # rows entirely missing
    new[5:10, 0] = 0.0
    np.testing.assert_allclose(trees.predict(forest, new), booster.predict(new), rtol=0, atol=1e-9)


def test_a_forest_is_plain_values_and_checks_its_input():
    x, y = _data(500, 2)
    forest = trees.from_lightgbm(_booster(x, y, num_leaves=4).dump_model())
    json.dumps(forest.__dict__)  # tuples of ints and floats only
    assert forest.n_trees == 30 and forest.n_features == 5
    with pytest.raises(ValueError, match="rows of 5 features"):
        trees.predict(forest, np.zeros((3, 4)))


def test_a_single_leaf_tree_predicts_its_value():
    forest = trees.Forest((0,), (), (), (), (), (), (2.5,), n_features=2)
    np.testing.assert_array_equal(trees.predict(forest, np.zeros((3, 2))), [2.5, 2.5, 2.5])
