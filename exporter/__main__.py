"""Allow ``python -m exporter``."""

import sys

from exporter.cli.entry import main

sys.exit(main())
