"""From-scratch conv (being written)."""

__all__: list[str] = []
