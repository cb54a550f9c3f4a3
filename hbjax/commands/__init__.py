"""The command-line commands; ``hbjax.cli`` parses arguments and dispatches to them."""
