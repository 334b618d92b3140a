"""The conversation flows, one module (or package) each; ``registry.FLOWS`` names them all."""
