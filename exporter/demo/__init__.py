"""The demo: a simulated Clean Rooms world behind ``--demo``, and the fake of what moto lacks.

Owns the embedded world (``embedded``: moto and the fake on loopback), its simulated
accounts and activity (``world``, ``analyses``) and the fake Clean Rooms (``fake``).
The only part that imports moto or the fake. May import ``exporter.config``,
``exporter.collectors`` and ``exporter.core``.
"""
