"""Prometheus exporter for AWS Clean Rooms."""

__version__ = "0.1.0"
