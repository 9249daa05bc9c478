"""Command-line glue shared by every entry point: `--config RECIPE` and `--set a.b=c` overrides."""

from __future__ import annotations

import argparse

from avtpretrain.config.files import R, load_recipe, save_resolved
from avtpretrain.config.loader import ConfigError, dump_yaml
from avtpretrain.config.recipe import RecipeConfig


def add_config_args(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """--config (required unless there is a `default` recipe) and --set."""
    what = "run recipe YAML (pretrain/*.yaml, finetune/*.yaml)"
    parser.add_argument(
        "--config",
        required=default is None,
        default=default,
        help=f"{what}; default: {default}" if default else what,
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override one config value, type-checked (repeatable): --set optim.learning_rate=3e-4",
    )


def config_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, kind: type[R] = RecipeConfig
) -> R:
    """Load the recipe named on the command line; a config error exits 2 with a one-line message."""
    try:
        return load_recipe(args.config, args.overrides, kind)
    except ConfigError as err:
        parser.exit(2, f"{parser.prog}: config error: {err}\n")


def print_config_main(argv: list[str] | None = None) -> int:
    """`tools/print_config.py`: validate a recipe (+ overrides) and print or save it resolved."""
    parser = argparse.ArgumentParser(
        prog="print_config.py", description="Validate a run recipe and print it fully resolved."
    )
    add_config_args(parser)
    parser.add_argument("--out", help="also write the resolved config.yaml into this run directory")
    args = parser.parse_args(argv)
    config = config_from_args(parser, args)
    print(dump_yaml(config), end="")
    if args.out:
        print(f"# written to {save_resolved(config, args.out)}")
    return 0
