"""``featent app``: the Streamlit command it starts, public mode through the child's environment, options passed on."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

import featent.app
from featent.cli.app import QUIET_OPTIONS
from featent.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_app_starts_streamlit_headless_quiet_on_the_packaged_entry(started):
    assert main(["app", "--port", "8600", "--host", "127.0.0.1"]) == 0
    (command, env), = started.calls
    assert command[1:5] == ["-m", "streamlit", "run", str(featent.app.SERVER)]
    text = " ".join(command)
    assert "--server.port 8600" in text and "--server.headless true" in text and "--server.address 127.0.0.1" in text
    assert " ".join(QUIET_OPTIONS) in text and "--server.fileWatcherType none" in text
    assert "FEATENT_PUBLIC" not in env
    assert Path(command[4]).is_file() and Path(command[4]).parent.name == "app"


def test_public_sets_the_env_of_the_child_only(started):
    import os

    assert main(["app", "--public"]) == 0
    (_, env), = started.calls
    assert env["FEATENT_PUBLIC"] == "1" and "FEATENT_PUBLIC" not in os.environ


def test_unknown_options_and_everything_after_the_separator_go_to_streamlit_last(started):
    assert main(["app", "--server.maxUploadSize", "50", "--port", "8601", "--", "--theme.base", "dark"]) == 0
    (command, _), = started.calls
    assert command[-4:] == ["--server.maxUploadSize", "50", "--theme.base", "dark"]  # last, so the user's win
    assert "--" not in command and "--server.port" in command


def test_other_commands_still_refuse_unknown_options(capsys):
    assert main(["models", "--server.port", "1"]) == 2
    assert "unrecognized arguments: --server.port 1" in capsys.readouterr().err


def test_a_failed_streamlit_is_one_line(started, capsys):
    started.status = 3
    assert main(["app"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["featent: error: Streamlit stopped with exit status 3; its message is above."]


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"featent {featent.__version__}"


def test_make_run_passes_the_same_quiet_options():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert all(shlex.join(QUIET_OPTIONS[i:i + 2]) in run for i in (0, 2)) and "--server.headless true" in run


@pytest.mark.parametrize("stopped_by", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_server_stopped_as_asked_is_not_an_error(started, capsys, stopped_by):
    import signal

    started.status = -getattr(signal, stopped_by)
    assert main(["app"]) == 0
    assert capsys.readouterr().err == ""
