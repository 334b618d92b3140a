"""A loopback emulation of the Telegram Bot API, for end-to-end tests of the real PTB stack."""
