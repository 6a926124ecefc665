"""Polling: targets, one schedule per (collector, target), back-off, sharding, worker processes.

Owns the poller (``poller``), a configuration's poll jobs (``jobs``), accounts to
targets and one target's poll (``targets``), rendezvous hashing (``sharding``), and
the poll worker processes (``pool`` in the main process, ``worker`` in each child).
May import ``exporter.aws``, ``exporter.config``, ``exporter.collectors`` and
``exporter.core``; never ``prometheus_client``: a poll never renders.
"""
