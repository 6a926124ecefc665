"""The command line: flags, ``--config.check``, the serving loop and signals.

The top layer: it may import every other part of the exporter, and nothing imports it.
"""

from exporter.cli.main import main

__all__ = ["main"]
