"""Options shared by several commands mean the same thing everywhere: the same flags, the same
validation and the same help text (srcli/cli/options.py declares them once), and no short flag
has two meanings across commands (`-d` is `bench --dataset`, nothing else)."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from srcli.cli import options
from srcli.cli.app import app
from srcli.vocabulary import DEGRADATIONS, UPSCALE_DEGRADATIONS

runner = CliRunner()


def _commands(cmd: Any, path: str = "srcli") -> Iterator[tuple[str, Any]]:
    yield path, cmd
    if isinstance(cmd, TyperGroup):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, f"{path} {name}")


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _option(command: str, long: str) -> TyperOption | None:
    return next((p for p in COMMANDS[command].params
                 if isinstance(p, TyperOption) and long in p.opts), None)


def _having(long: str) -> dict[str, TyperOption]:
    found = {name: _option(name, long) for name in COMMANDS}
    return {name: opt for name, opt in found.items() if opt is not None}


def _validation(opt: TyperOption) -> tuple[object, ...]:
    """What decides whether a value is accepted: choices or range, and the callback (the type
    itself may differ: bench takes several --scale values where upscale takes one)."""
    callback = getattr(opt.callback, "__wrapped__", opt.callback)  # Typer wraps callbacks
    kind = opt.type_descriptor.annotation
    if isinstance(kind, type) and issubclass(kind, Enum):
        case = opt.type_descriptor.parameter_info.case_sensitive
        return ("choice", tuple(m.value for m in kind), case), callback
    return ("range", opt.min, opt.max), callback


#: Shared option -> (the commands that must have it, the help text every one of them repeats).
SHARED = {
    "--device": ({"srcli upscale", "srcli bench", "srcli train"}, options.DEVICE_HELP),
    "--threads": ({"srcli upscale", "srcli bench", "srcli train"}, options.THREADS_HELP),
    "--scale": ({"srcli upscale", "srcli bench", "srcli train", "srcli models export"},
                options.SCALE_HELP),
    "--model": ({"srcli upscale", "srcli bench", "srcli train"}, options.MODEL_HELP),
    "--degradation": ({"srcli upscale", "srcli bench", "srcli train", "srcli models export"},
                      options.DEGRADATION_HELP),
    "--tile": ({"srcli upscale"}, options.TILE_HELP),
}


@pytest.mark.parametrize("long", sorted(SHARED))
def test_a_shared_option_has_the_same_flags_help_and_checks_everywhere(long: str) -> None:
    must, text = SHARED[long]
    found = _having(long)
    assert must <= set(found), f"{long} missing from {must - set(found)}"
    flags = {name: tuple(sorted(o.opts + o.secondary_opts)) for name, o in found.items()}
    assert len(set(flags.values())) == 1, flags
    for name, opt in found.items():
        assert opt.help and text in opt.help, f"{name} {long}: {opt.help!r}"
    checks = {name: _validation(o) for name, o in found.items()}
    if long == "--degradation":  # upscale adds auto; the rest are the vocabulary's names
        upscale = checks.pop("srcli upscale")
        assert upscale == (("choice", UPSCALE_DEGRADATIONS, False), None)
        assert set(checks.values()) == {(("choice", DEGRADATIONS, False), None)}
    else:
        assert len(set(checks.values())) == 1, checks


def test_no_short_flag_has_two_meanings() -> None:
    meaning: dict[str, set[str]] = {}
    for cmd in COMMANDS.values():
        for p in cmd.params:
            if not isinstance(p, TyperOption):
                continue
            longs = [o for o in p.opts + p.secondary_opts if o.startswith("--")]
            for short in (o for o in p.opts + p.secondary_opts if not o.startswith("--")):
                meaning.setdefault(short, set()).update(longs[:1])
    assert {s: m for s, m in meaning.items() if len(m) > 1} == {}
    assert meaning["-d"] == {"--dataset"} and meaning["-g"] == {"--device"}
    assert "-d" not in (_option("srcli upscale", "--degradation").opts)  # type: ignore[union-attr]


@pytest.mark.parametrize("argv", [
    ["upscale", "in.png", "-g", "tpu"],
    ["bench", "-g", "tpu"],
    ["train", "-g", "tpu"],
    ["upscale", "in.png", "--threads", "0"],
    ["train", "--threads", "0"],
    ["bench", "-s", "1"],
    ["train", "-s", "9"],
])
def test_shared_checks_refuse_bad_values_as_usage_errors(argv: list[str]) -> None:
    # refused while parsing, before any file, model or data is touched
    assert runner.invoke(app, argv).exit_code == 2
