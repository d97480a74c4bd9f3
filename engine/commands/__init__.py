"""Subcommands of the `callflow` command: one module each, every one with
``register(subparsers)`` that adds its parser and sets ``func`` to its entry point
(``func(args) -> int`` exit status)."""
