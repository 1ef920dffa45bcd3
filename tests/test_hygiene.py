"""Development habits enforced by the test command: ruff (lint and format) and the layering."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd):
    if shutil.which(cmd[0]) is None:
        pytest.fail(f"{cmd[0]} is not installed: pip install -e '.[test]'")
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_is_clean():
    out = _run("ruff", "check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_clean():
    out = _run("ruff", "format", "--check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_import_layering_contract_is_kept():
    out = _run("lint-imports", "--no-cache")
    assert out.returncode == 0, out.stdout + out.stderr


PACKAGES = ("infra", "theory", "sims", "figures", "paper_checks")


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def _owner(dotted: str) -> str:
    """The package a private name belongs to: the dotted path up to its first private part."""
    parts = dotted.split(".")
    first = next(i for i, part in enumerate(parts) if _private(part))
    return ".".join(parts[:first])


def private_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Uses in ``path`` of a project name that is private to another package: ``from m import
    _x``, ``import m._x``, ``from m._x import y``, or ``module._x`` on an imported module. A
    private name may be used inside the package that owns it (``sims`` may import
    ``sims._reference``)."""
    where = path.relative_to(root)
    module = ".".join(where.with_suffix("").parts)
    found, modules = [], set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        names, bound = [], []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            bound = [alias.asname or alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            bound = [alias.asname or alias.name.partition(".")[0] for alias in node.names]
        ours = [name.partition(".")[0] in PACKAGES for name in names]
        modules |= {b for b, our in zip(bound, ours, strict=True) if our}
        for name, our in zip(names, ours, strict=True):
            if our and _private(name) and not module.startswith(_owner(name) + "."):
                found.append(f"{where}:{node.lineno}: {name}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and _private(node.attr)):  # fmt: skip
            found.append(f"{where}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_packages_private_names():
    files = [p for top in (*PACKAGES, "tests") for p in sorted((ROOT / top).rglob("*.py"))]
    found = [use for path in files for use in private_imports(path)]
    assert not found, "\n".join(found)


def test_the_private_name_check_finds_each_kind_of_use(tmp_path):
    # the check itself, on a file that uses private names in every way it looks for
    (tmp_path / "tests").mkdir()
    probe = tmp_path / "tests" / "probe.py"
    probe.write_text(
        "import sims._reference\nfrom sims.region import _loop\nfrom sims._kernels import x\n"
        "from sims import region as r\nr._loop()\nfrom sims.region import public\n"
        "import numpy as np\nnp._NoValue\n"
    )
    found = private_imports(probe, tmp_path)
    assert [f.split(": ")[1] for f in found] == [
        "sims._reference", "sims.region._loop", "sims._kernels.x", "r._loop",
    ]  # fmt: skip
