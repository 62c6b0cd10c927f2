"""The course's module interface: every layer is a Transform."""


class Transform:
    """A differentiable map on column-stacked batches.

    forward(x): (indim, batch) -> (outdim, batch)
    backward(grad_wrt_out): (outdim, batch) -> (indim, batch), the gradient
    with respect to the input of the last forward; parameter gradients are
    accumulated on the side until zerograd().
    """

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_wrt_out):
        raise NotImplementedError

    def step(self):
        """Apply the accumulated gradients (no-op for parameter-free maps)."""

    def zerograd(self):
        """Reset the accumulated gradients (no-op for parameter-free maps)."""

    def parameters(self):
        """List of (name, value, gradient) triples; empty when there are none."""
        return []
