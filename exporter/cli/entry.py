"""The ``cleanrooms-exporter`` command: signal handlers first, then the exporter.

Nothing but the standard library is imported before the handlers are installed: see
``exporter.cli.signals`` for why a container needs them from the process's first moment.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from exporter.cli.signals import Signals, Stopped, stopped_within


def main(argv: Sequence[str] | None = None) -> int:
    signals = Signals().install()
    try:
        # Imported here, after the handlers: these imports are most of the start-up time.
        from exporter.cli.main import main as run  # noqa: PLC0415

        return run(argv, signals)
    except Stopped as stopped:
        return _stopped(stopped)
    except Exception as error:
        wrapped = stopped_within(error)  # a stop inside one of Python's own hooks
        if wrapped is None:
            raise
        return _stopped(wrapped)


def _stopped(stopped: Stopped) -> int:
    # A plain line, as for other start-up failures: logging may not be set up yet.
    print(f"cleanrooms-exporter: received {stopped} while starting; exiting", file=sys.stderr)
    return stopped.exit_code
