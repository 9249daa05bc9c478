"""Model names, recipes and DeepSpeed JSONs named as in the docs resolve from any working directory:
from the checkout around the package, else from the copy a wheel installs inside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avtpretrain.config import ConfigError, files, load_model_config, load_recipe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_names_resolve_outside_the_checkout(elsewhere: Path) -> None:
    assert files.resolve_model_path("tiny") == REPO / "model_configs" / "tiny.yaml"
    assert load_model_config("small").text.family
    assert files.find_data_file("ds_configs/zero2.json") == REPO / "ds_configs" / "zero2.json"
    assert load_recipe("pretrain/demo.yaml").model.text.hidden_size > 0


def test_a_path_as_given_comes_first(elsewhere: Path) -> None:
    (elsewhere / "model_configs").mkdir()
    mine = shutil.copy(REPO / "model_configs" / "tiny.yaml", elsewhere / "model_configs")
    assert files.resolve_model_path("tiny") == elsewhere / "model_configs" / "tiny.yaml"
    assert files.resolve_model_path(str(mine)) == Path(mine)
    (elsewhere / "pretrain").mkdir()
    (elsewhere / "pretrain" / "demo.yaml").write_text("model: tiny\n")
    assert files.find_data_file("pretrain/demo.yaml") == Path("pretrain/demo.yaml")


def test_installed_copy_is_used_without_a_checkout(
    elsewhere: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A package folder as a wheel installs it: no setup.py beside it, configs under _configs/.
    package = tmp_path_factory.mktemp("site") / "avtpretrain"
    for folder in files.DATA_FOLDERS:
        shutil.copytree(REPO / folder, package / "_configs" / folder)
    monkeypatch.setattr(files, "_PACKAGE", package)
    assert files.shipped_roots() == [package / "_configs"]
    found = files.resolve_model_path("base")
    assert found == package / "_configs" / "model_configs" / "base.yaml"
    assert files.find_data_file("finetune/demo_qa.yaml").is_relative_to(package)
    recipe = load_recipe("pretrain/demo.yaml")  # its model name resolves beside it
    assert recipe.model == load_model_config(str(REPO / "model_configs" / "tiny.yaml"))


def test_unknown_names_fail_in_one_line(elsewhere: Path) -> None:
    with pytest.raises(ConfigError) as err:
        files.resolve_model_path("huge")
    message = str(err.value)
    assert "no model config named 'huge'" in message and "tiny" in message
    assert "\n" not in message
    # Outside the shipped folders nothing is looked up: the caller reports the path missing.
    assert files.find_data_file("recipes/x.yaml") == Path("recipes/x.yaml")
    assert files.find_data_file("pretrain/../setup.py") == Path("pretrain/../setup.py")


def _count_params(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "count_params.py"), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_count_params_from_another_directory(tmp_path: Path) -> None:
    assert "usage: count_params.py" in _count_params("--help", cwd=tmp_path).stdout
    proc = _count_params("tiny", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1].startswith("total")
    proc = _count_params("huge", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("count_params.py: config error: model: no model config")
