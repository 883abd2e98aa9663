"""The ``featent`` command line, one module per command group over the shared ``common`` helpers."""

from featent.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
