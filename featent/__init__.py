"""featent: topological feature entropy of CNN units (Zhao & Zhang, ICLR 2022)."""

__version__ = "0.1.0"
