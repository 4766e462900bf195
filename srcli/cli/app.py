"""The `srcli` Typer app: one module per command, one error boundary for all of them.

The boundary turns any error a user can cause (SrcliError, OSError) into one line on stderr
and exit code 1; usage errors keep click's exit code 2; `--debug` re-raises for the traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from srcli import __version__
from srcli.cli.console import err, state
from srcli.errors import SrcliError


class GuardedGroup(TyperGroup):
    """Root group whose invoke() is the single error boundary for every sub-command."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors keep exit 2
            raise
        except KeyboardInterrupt:
            if state["debug"]:
                raise
            err.print("[red]interrupted[/red]")
            raise typer.Exit(130) from None
        except SrcliError as exc:
            if state["debug"]:
                raise
            err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:  # `srcli ... | head`: click's main exits quietly on EPIPE
            raise
        except OSError as exc:  # disk full, permission denied, ... are the user's to fix
            if state["debug"]:
                raise
            err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None
        except Exception as exc:
            if state["debug"]:
                raise
            err.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: "
                      f"{escape(str(exc))} "
                      "(rerun with --debug for the traceback and please report it)",
                      soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=GuardedGroup,
    name="srcli",
    help="Super-resolution from the command line: upscale, benchmark and train DAN/BAM models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"srcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    state["debug"] = debug


def _register_commands() -> None:
    # Each command module adds itself to `app`; the list is explicit so the CLI is walkable.
    from srcli.cli import bench, models, train, upscale

    for module in (upscale, bench, train, models):
        module.register(app)


_register_commands()


#: click's UsageError as Typer ships it (Typer vendors click in recent versions): found from
#: the public typer.BadParameter so that no private module is imported by name.
USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__
                                    if c.__name__ == "UsageError")


def main() -> None:
    """Console-script entry point.

    Usage errors (a bad flag value, a missing argument) become one line on stderr and exit 2,
    like every other error a user can cause, instead of click's boxed multi-line message.
    """
    if "--debug" in sys.argv[1:]:
        state["debug"] = True
    try:
        code = app(prog_name="srcli", standalone_mode=False)
    except USAGE_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `srcli upscale` alone: show the help
            app(prog_name="srcli")
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "srcli"
        err.print(f"[bold red]error:[/bold red] {escape(exc.format_message())} "  # type: ignore[attr-defined]
                  f"(see `{escape(where)} --help`)", soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        err.print("[red]interrupted[/red]")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
