"""Configuration: the YAML file into frozen dataclasses, every problem reported with its path.

Owns the main file (``loader``), the ``collectors:`` section and ``--collector.NAME``
overrides (``collectors``), the sections for large organisations (``scale``), the Clean
Rooms regions botocore knows (``regions``) and the problem-collecting parser shared with
the web configuration file (``parser``). May import ``exporter.collectors`` (for the
registry) and ``exporter.core``; never AWS clients, polling, metrics or the web side.
"""

from exporter.config.loader import default_region, load_config, parse_config
from exporter.config.parser import ConfigError, parse_duration, read_text, read_yaml
from exporter.config.settings import AccountConfig, AwsSettings, Config

__all__ = [
    "AccountConfig",
    "AwsSettings",
    "Config",
    "ConfigError",
    "default_region",
    "load_config",
    "parse_config",
    "parse_duration",
    "read_text",
    "read_yaml",
]
