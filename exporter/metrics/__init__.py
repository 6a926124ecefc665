"""Metrics: states and tallies into metric families and cached exposition bytes; no I/O.

Owns the scrape's consistent view and the families of every collector (``collector``),
the exporter's own families (``families``, ``health``, ``exporter_state``) and the
cached ``/metrics`` renderer (``exposition``). May import ``exporter.config``,
``exporter.collectors`` and ``exporter.core``; never ``exporter.aws`` or
``exporter.polling``: a scrape never calls AWS.
"""
