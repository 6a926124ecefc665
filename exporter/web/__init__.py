"""The web side: ``/metrics``, ``/``, ``/-/healthy``, ``/-/ready``, ``/-/reload``, TLS and auth.

Owns the handlers (``handlers``), the guarded threading server (``server``, ``guard``),
the ``--web.config.file`` (``tlsconfig``) and the HTML status page (``statuspage``,
``attention``, ``spend``, rendered from the Jinja2 templates in ``templates/``). Serves what
it is handed (a render function, a snapshot); may import ``exporter.config``,
``exporter.collectors`` and ``exporter.core``; never ``exporter.aws`` or ``exporter.polling``.
"""
