"""desktop-nn: see how neural networks learn."""

__version__ = "0.1.0"
