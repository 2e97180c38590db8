"""CLI: help on every command, VoicesError as one paragraph with exit 2, --debug, Ctrl-C."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from voicescount import cli, commands
from voicescount.errors import ConfigError

TINY = Path(__file__).parent / "fixtures" / "tiny"


def subcommands() -> list[str]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_run_build_and_all_are_registered():
    assert {"run", "build", "all"} <= set(subcommands())


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in subcommands()])
def test_help_on_every_command(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
    assert "usage: voicescount" in capsys.readouterr().out


def test_input_error_is_one_paragraph_exit_2_without_traceback(tmp_path, capsys):
    shutil.copytree(TINY, tmp_path / "p")
    code = cli.main(["--root", str(tmp_path / "p"), "run", "--country", "XX"])
    err = capsys.readouterr().err
    flat = " ".join(err.split())  # the paragraph is wrapped; long paths move line breaks
    assert code == 2
    assert "Traceback" not in err
    assert flat.startswith("error: ") and "countries.yml" in flat and "'XX'" in flat
    assert "\n\n" not in err.strip()  # one paragraph


def test_debug_shows_the_traceback(tmp_path, capsys):
    shutil.copytree(TINY, tmp_path / "p")
    code = cli.main(["--debug", "--root", str(tmp_path / "p"), "run", "--country", "XX"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err and "error:" in err


def test_bad_yaml_names_file_and_field(tmp_path, capsys):
    shutil.copytree(TINY, tmp_path / "p")
    cyc = tmp_path / "p/data/ZZ/2021/cycle.yml"
    cyc.write_text(cyc.read_text().replace("sdgs: [1, 5]", "sdgs: [1, 18]"))
    assert cli.main(["--root", str(tmp_path / "p"), "run", "--no-progress"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "ZZ/2021/cycle.yml" in err and "field 'sdgs" in err and "SDG 18 does not exist" in err


def test_keyboard_interrupt_exits_130(monkeypatch, capsys):
    def interrupted(args, project):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_build", interrupted)
    parser = cli.build_parser()
    # rebuild so the parser picks up the patched function
    monkeypatch.setattr(cli, "build_parser", lambda: _patched(parser, interrupted))
    assert cli.main(["build"]) == 130
    assert "interrupted" in capsys.readouterr().err


def _patched(parser: argparse.ArgumentParser, func) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action.choices["build"].set_defaults(func=func)
    return parser


def test_other_errors_are_not_swallowed(monkeypatch):
    parser = cli.build_parser()

    def bug(args, project):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "build_parser", lambda: _patched(parser, bug))
    with pytest.raises(RuntimeError):
        cli.main(["build"])


def test_voices_error_exit_code_comes_from_the_error(monkeypatch, capsys):
    parser = cli.build_parser()

    def bad(args, project):
        raise ConfigError("broken.", path="data/x.yml", field="a", hint="Fix it.")

    monkeypatch.setattr(cli, "build_parser", lambda: _patched(parser, bad))
    assert cli.main(["build"]) == ConfigError.exit_code == 2
    assert capsys.readouterr().err.strip() == "error: data/x.yml, field 'a': broken. Fix it."


def test_every_command_of_the_grammar_has_exactly_one_handler():
    # commands.py is the grammar (the handbook documents it), cli.HANDLERS runs it
    names = set(commands.subparsers(commands.build_parser()).choices)
    assert names == set(cli.HANDLERS) == set(subcommands())
    parser = cli.build_parser()
    for name, sub in commands.subparsers(parser).choices.items():
        assert sub.get_default("func") is cli.HANDLERS[name]
