"""Commands run beside `make run` find its servers through var/dev/stack.env, or say exactly what to set."""

from __future__ import annotations

import os
import subprocess

import pytest

from gateway import cli
from gateway.cli import common


@pytest.fixture
def no_stack_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in common.STACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_a_command_in_a_second_terminal_reaches_the_running_stack(
    settings, monkeypatch, tmp_path, capsys, no_stack_in_environment
):
    stack_env = tmp_path / "stack.env"
    common.write_stack_env(
        stack_env, {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}, os.getpid()
    )
    monkeypatch.setattr(common, "DEV_STACK_ENV", stack_env)

    assert cli.main(["keys", "create", "--role", "regulator", "--label", "second terminal"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("pk_")


def test_without_a_running_stack_the_command_names_the_line_to_use(monkeypatch, tmp_path, no_stack_in_environment):
    monkeypatch.setattr(common, "DEV_STACK_ENV", tmp_path / "absent.env")

    with pytest.raises(SystemExit) as stopped:
        cli.main(["keys", "create", "--role", "regulator"])
    assert "make run" in str(stopped.value)
    assert "export DATABASE_URL=postgresql://" in str(stopped.value)


def test_the_file_is_shell_assignments_that_a_shell_can_export(tmp_path):
    stack_env = tmp_path / "stack.env"
    env = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:55432/pishkhan?x=1&y=2", "REDIS_URL": "redis://h:1/0"}
    common.write_stack_env(stack_env, {**env, "HOME": "/root"}, os.getpid())

    assert common.read_stack_env(stack_env) == env
    assert stack_env.stat().st_mode & 0o777 == 0o600
    printed = subprocess.run(
        ["sh", "-c", f'set -a; . "{stack_env}"; set +a; echo "$DATABASE_URL"'], capture_output=True, text=True, env={}
    )
    assert printed.stdout.strip() == env["DATABASE_URL"]


def test_an_environment_that_sets_the_database_wins_over_the_file(monkeypatch, tmp_path, no_stack_in_environment):
    stack_env = tmp_path / "stack.env"
    common.write_stack_env(
        stack_env, {"DATABASE_URL": "postgresql://from-file/db", "REDIS_URL": "redis://file/0"}, os.getpid()
    )
    monkeypatch.setattr(common, "DEV_STACK_ENV", stack_env)
    monkeypatch.setenv("DATABASE_URL", "postgresql://given/db")

    common.use_running_dev_stack()

    assert common.load_settings().database_url == "postgresql://given/db"
    assert common.load_settings().redis_url == ""


def test_a_file_left_behind_by_a_stack_that_is_gone_is_ignored(monkeypatch, tmp_path, no_stack_in_environment):
    finished = subprocess.Popen(["true"])
    finished.wait()
    stack_env = tmp_path / "stack.env"
    common.write_stack_env(stack_env, {"DATABASE_URL": "postgresql://gone/db"}, finished.pid)
    monkeypatch.setattr(common, "DEV_STACK_ENV", stack_env)

    assert common.read_stack_env(stack_env) == {}
    with pytest.raises(SystemExit, match="no dev stack is running"):
        cli.main(["keys", "create", "--role", "regulator"])
