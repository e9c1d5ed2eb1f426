"""The math: activations, costs, initialisation, the network, optimisers. No Qt, no I/O."""

from desktop_nn.nn.network import Network, NetworkSpec

__all__ = ["Network", "NetworkSpec"]
