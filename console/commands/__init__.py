"""CLI command groups; each module exposes register(subparsers)."""

import argparse


def add_command(sub, name: str, help: str, example: str, func) -> argparse.ArgumentParser:
    """A sub-command whose --help ends with an example, as every command's must."""
    parser = sub.add_parser(
        name,
        help=help,
        description=help,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def add_group(sub, name: str, help: str) -> argparse._SubParsersAction:
    """A command group such as `playbook` whose sub-commands are added by the caller."""
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
