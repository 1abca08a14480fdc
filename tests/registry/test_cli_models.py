"""`shelfcast models list|show|promote|rollback` on a store with registered titles."""

import pytest
from support.registry import ISBN_A, train, with_holdout_mase
from typer.testing import CliRunner

from shelfcast.cli import app

runner = CliRunner()


def test_cli_list_show_promote_rollback(cli_home, fits, refit):
    train(cli_home, fits)
    train(cli_home, [with_holdout_mase(refit, 99.0)], fingerprint="2")

    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert (
        "arima_book_9780722532935" in result.output and "arima_book_9780241003008" in result.output
    )
    assert "models" in result.output and "with a champion" in result.output

    result = runner.invoke(app, ["models", "show", ISBN_A])
    assert result.exit_code == 0, result.output
    assert "v2" in result.output and "kept" in result.output and "challenger" in result.output

    result = runner.invoke(app, ["models", "promote", ISBN_A, "2", "--reason", "test"])
    assert result.exit_code == 0, result.output
    assert "v1 -> v2" in result.output
    result = runner.invoke(app, ["models", "rollback", "arima_book_9780722532935"])
    assert result.exit_code == 0, result.output
    assert "v2 -> v1" in result.output

    result = runner.invoke(app, ["models", "rollback", ISBN_A])
    assert result.exit_code == 1
    assert "no previous champion" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [["show", "arima_book_9780000000002"], ["promote", ISBN_A, "7"], ["rollback", "nope"]],
)
def test_cli_unknown_names_exit_1_with_a_clear_message(cli_home, fits, args):
    train(cli_home, fits[:1])
    result = runner.invoke(app, ["models", *args])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output
    assert ("no registered model named" in result.output) or ("has no version" in result.output)


def test_cli_help_has_examples():
    for command in ("list", "show", "promote", "rollback"):
        result = runner.invoke(app, ["models", command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output
