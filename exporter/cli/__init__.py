"""The command line: flags, ``--config.check``, the serving loop and signals.

The top layer: it may import every other part of the exporter, and nothing imports it.
``main`` is the command (``exporter.cli.entry``): it installs the signal handlers before
it imports the rest, so importing this package stays cheap.
"""

from exporter.cli.entry import main

__all__ = ["main"]
