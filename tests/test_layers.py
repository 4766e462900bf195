"""Imports flow downward: every `import srcli...` in srcli/ goes to a lower layer (or stays in
its own package), read from the source with `ast`, lazy imports inside functions included.

    __main__                                `python -m srcli`: runs the CLI
    cli                                     the only code that parses flags, prints, exits
    bench                                   measures models through the inference engine
    inference, train, export                run models / make them; never each other
    models, metrics, data                   networks, scores, datasets; never each other
    imaging                                 pixels: I/O, resampling, degradations
    weights                                 manifest, checkpoints, the hub: the only network code
    base: errors, runtime, hardware, vocabulary, devices, the `srcli` package itself
          (torch-free at import, usable from any layer, importing only each other)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import srcli

# The package under test: the checkout's, or the installed wheel's when the suite runs from an
# unpacked sdist whose srcli/ was removed (packagers test that way).
SRC = Path(srcli.__file__).resolve().parent
BASE = {"srcli", "srcli.errors", "srcli.runtime", "srcli.hardware", "srcli.vocabulary",
        "srcli.devices"}
#: Layer of each top-level unit (package or module) of srcli: a unit may import units of a
#: strictly lower layer, its own package, and the base modules. Nothing else.
LAYERS = {
    "__main__": 7,
    "cli": 6,
    "bench": 5,
    "inference": 4, "train": 4, "export": 4,
    "models": 3, "metrics": 3, "data": 3,
    "imaging": 2,
    "weights": 1,
}
#: Third-party modules a base module must not load when imported (the CLI's start-up cost).
HEAVY = {"torch", "numpy", "cv2", "PIL", "huggingface_hub", "safetensors"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return found


def _unit(module: str) -> str:
    """`srcli.inference.engine` -> `inference`; base modules -> `base`."""
    if module in BASE:
        return "base"
    return module.split(".")[1]


def _problem(module: str, target: str) -> str | None:
    if not target.startswith("srcli") or (target != "srcli" and not target.startswith("srcli.")):
        return None
    src, dst = _unit(module), _unit(target)
    if dst == "base" or src == dst:
        return None
    if src == "base":
        return "a base module imports a layer"
    if src not in LAYERS or dst not in LAYERS:
        return f"{src if src not in LAYERS else dst} has no layer in tests/test_layers.py"
    if LAYERS[dst] > LAYERS[src]:
        return f"{src} (layer {LAYERS[src]}) imports upward into {dst} (layer {LAYERS[dst]})"
    if LAYERS[dst] == LAYERS[src]:
        return f"{src} imports sideways into {dst} (both layer {LAYERS[src]})"
    return None


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_import_in_srcli_goes_down() -> None:
    problems = []
    for path in _sources():
        module = _module_name(path)
        for line, target in _imports(path):
            why = _problem(module, target)
            if why:
                problems.append(f"{path.relative_to(SRC.parent)}:{line}: {target}: {why}")
    assert problems == [], "\n".join(problems)


def test_every_unit_has_a_layer() -> None:
    units = {_unit(_module_name(p)) for p in _sources()}
    assert units - {"base"} <= set(LAYERS), units - {"base"} - set(LAYERS)


@pytest.mark.parametrize("module", sorted(BASE - {"srcli"}))
def test_base_modules_are_light_at_import(module: str) -> None:
    path = SRC / f"{module.split('.')[1]}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = []  # module-level imports only: a function may import torch when it runs
    for node in tree.body:
        if isinstance(node, ast.Import):
            top += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top.append(node.module)
    assert not {t.split(".")[0] for t in top} & HEAVY, top


def test_the_checker_catches_what_it_should() -> None:
    # the three violations this test was written against, and what stays allowed
    assert "sideways" in (_problem("srcli.train.loop", "srcli.inference.engine") or "")
    assert "upward" in (_problem("srcli.weights.manifest", "srcli.imaging.io") or "")
    assert "upward" in (_problem("srcli.weights.manifest", "srcli.models.registry") or "")
    assert _problem("srcli.train.loop", "srcli.devices") is None
    assert _problem("srcli.data.download", "srcli.weights.hub") is None
    assert _problem("srcli.inference.engine", "srcli.inference.tiling") is None
    assert _problem("srcli.vocabulary", "srcli.models") == "a base module imports a layer"
