"""The core every part shares: immutable data, API tallies, logging, small family helpers.

Imports nothing else of the exporter: every other part may import it.
"""
