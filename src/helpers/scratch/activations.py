"""From-scratch activations (being written)."""

__all__: list[str] = []
