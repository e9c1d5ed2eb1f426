"""The math: activations, costs, initialisation, the network, optimisers, and the device ops
(nn/ops/) that carry out its arithmetic on each device. No Qt, no I/O."""

from desktop_nn.nn.network import Network, NetworkSpec

__all__ = ["Network", "NetworkSpec"]
