"""Telegram: python-telegram-bot's Application around the engine (updates in, replies out)."""

import os

# Opt in now to python-telegram-bot's coming behaviour: durations (retry_after) as timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")
