"""From-scratch pool (being written)."""

__all__: list[str] = []
