"""The README's promises: its commands match CI, and its Python example runs as written."""

import os
import pathlib
import re

import keras

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command_after_installing_requirements():
    install, test = [line for line in _blocks("bash")[0].splitlines() if line.strip()][:2]
    assert install.startswith("pip install -r requirements.txt")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "python -m pip install --quiet -r requirements.txt" in ci
    assert ci[-1] == test


def test_readme_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    keras.utils.set_random_seed(0)
    namespace = {}
    exec(compile(_blocks("python")[0], "README.md", "exec"), namespace)
    assert namespace["probabilities"].shape == (5, 2)
    assert os.path.isdir(tmp_path / "runs" / "example_export")


def test_readme_map_of_the_package_matches_the_tree():
    """Every module of adgm_tf (and the configs folder) has a row in README's map, and every
    file the map names exists."""
    section = README.split("## Map of the package", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(adgm_tf/[\w/]+(?:\.py|/))`", section))
    modules = {f"adgm_tf/{p.name}" for p in (ROOT / "adgm_tf").glob("*.py")
               if p.name != "__init__.py"} | {"adgm_tf/configs/"}
    assert sorted(modules - named) == [], "modules missing from README's map"
    assert sorted(named - modules) == [], "README's map names files that do not exist"


def test_package_code_stays_in_small_pieces():
    """No class over 200 lines and no function over 60 in adgm_tf/ (docstrings included),
    so that each piece reads on a screen or two."""
    import ast

    long = []
    for path in sorted((ROOT / "adgm_tf").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            limit = {ast.ClassDef: 200, ast.FunctionDef: 60}.get(type(node))
            if limit and node.end_lineno - node.lineno + 1 > limit:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} "
                            f"({node.end_lineno - node.lineno + 1} lines)")
    assert long == []
