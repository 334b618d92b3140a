"""The product's brain: campaign rules, eligibility and the conversation flows.

Imports only the standard library and Babel, so every messenger and every storage back end can
drive it, and every rule can be tested without a network or a database.
"""
