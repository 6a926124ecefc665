"""AWS: sessions, shared regional clients, credentials, rate limits and API accounting.

Owns everything that talks to botocore: clients and role assumption (``clients``),
per-thread credentials (``credentials``), the token bucket (``ratelimit``), the compiled
success-path parser (``fastparse``), error classification (``errors``), the botocore
hooks that count every attempt (``accounting``) and Organizations discovery
(``discovery``). May import ``exporter.config``, ``exporter.collectors`` and
``exporter.core``; never polling, metrics or the web side.
"""
