"""The ``extractor`` command line: thin typer sub-apps, one module per command group.

:mod:`.app` is the root (error handling, logging options, registration); :mod:`.common` the shared
options and output; each other module one group of commands over the library.
"""

from extractor.cli.app import app, main

__all__ = ["app", "main"]
