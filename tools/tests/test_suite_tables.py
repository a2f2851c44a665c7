"""The conformance suite's tables as the course uses them: implementations per track, report columns."""

from __future__ import annotations

from bench.suite import implementations

import results  # conformance/, on sys.path through bench.suite


def test_a_program_of_yours_joins_one_track_with_its_path_from_where_make_ran(tmp_path, monkeypatch):
    monkeypatch.setattr(
        implementations, "IMPLEMENTATIONS", {k: dict(v) for k, v in implementations.IMPLEMENTATIONS.items()}
    )
    monkeypatch.setattr(implementations, "COMMANDS", dict(implementations.COMMANDS))
    program = tmp_path / "bin" / "ctl"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    implementations.add_override("advanced", "mine", "bin/ctl --flag 'two words'", base=tmp_path)
    assert implementations.languages("advanced")[-1] == "mine"
    assert "mine" not in implementations.languages("basics")
    assert implementations.command("advanced", "mine") == [str(program), "--flag", "two words"]


def test_a_missing_program_of_yours_is_not_an_implementation(tmp_path, monkeypatch):
    monkeypatch.setattr(implementations, "COMMANDS", dict(implementations.COMMANDS))
    monkeypatch.setattr(
        implementations, "IMPLEMENTATIONS", {k: dict(v) for k, v in implementations.IMPLEMENTATIONS.items()}
    )
    implementations.add_override("basics", "mine", "./nowhere", base=tmp_path)
    assert implementations.command("basics", "mine") is None


def test_report_columns_come_from_the_results_so_a_fourth_language_is_shown():
    rows = [
        results.Result("advanced", "create_ready", language, "passed", 1.0)
        for language in ("rust", "go", "python-kopf", "bash", "python")
    ]
    assert results.columns(rows) == ["bash", "python", "go", "rust", "python-kopf"]
    report = results.render_report(rows, "local")
    assert "| scenario | bash | python | go | rust | python-kopf |" in report


def test_relative_paths_in_the_arguments_are_taken_from_where_make_ran(tmp_path, monkeypatch):
    monkeypatch.setattr(implementations, "COMMANDS", dict(implementations.COMMANDS))
    monkeypatch.setattr(
        implementations, "IMPLEMENTATIONS", {k: dict(v) for k, v in implementations.IMPLEMENTATIONS.items()}
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    implementations.add_override(
        "advanced", "mine", "env PYTHONPATH=src/ venv/bin/python -m ctl --x=a/b", base=tmp_path
    )
    assert implementations.COMMANDS[("advanced", "mine")] == [
        "env", f"PYTHONPATH={tmp_path / 'src/'}", str(tmp_path / "venv/bin/python"), "-m", "ctl", "--x=a/b",
    ]  # fmt: skip
