"""Wiring and the outside world: configuration, the command line, and the messengers."""
