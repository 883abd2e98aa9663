"""The ``featent`` command line, one module per command group over the shared ``common`` helpers."""

import sys

from featent.cli.first import announce, invoked_as_command

if invoked_as_command():  # the first line before the program (numpy, every command module) is imported
    announce(sys.argv[1:], ahead=True)

from featent.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
