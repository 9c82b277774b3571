"""The built-in commands' glue (translate/commands/builtin.py): ``translate run`` speaks before its heavy imports."""

from __future__ import annotations

import types

import pytest

from translate.commands.main import main


def test_run_prints_a_line_before_importing_torch_and_building(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    import translate.engine.trainer as trainer

    seen: list[str] = []

    def fake_train(recipe, **kwargs):
        seen.append(capsys.readouterr().out)  # what the user saw before the trainer started
        return types.SimpleNamespace(run_dir=None)

    monkeypatch.setattr(trainer, "train", fake_train)
    monkeypatch.delenv("RANK", raising=False)
    recipe = tmp_path / "r.toml"
    recipe.write_text("")
    assert main(["run", str(recipe)]) == 0
    assert seen == [f"preparing the run of {recipe}: loading PyTorch, the data set and the networks ...\n"]
    monkeypatch.setenv("RANK", "1")  # another process of a distributed run stays quiet
    assert main(["run", str(recipe)]) == 0
    assert seen[-1] == ""
