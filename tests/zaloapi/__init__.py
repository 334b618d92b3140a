"""A loopback emulation of the Zalo Bot Platform API, for end-to-end tests of the Zalo adapter."""
