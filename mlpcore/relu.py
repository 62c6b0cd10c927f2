"""ReLU with the course's (non-inverted) dropout."""
import numpy as np

from .transform import Transform


class ReLU(Transform):
    """relu(x) with dropout probability p on its outputs.

    Training: one np.random.uniform(0, 1, x.shape) draw per forward, units kept
    where u > p, output relu(x) * mask, with no 1/(1-p) rescaling.
    Inference: (1 - p) * relu(x), nothing drawn.
    x: (dim, B) -> (dim, B); backward, the gradient of the last forward:
    grad * mask * (x > 0) after training, grad * (1 - p) * (x > 0) after inference.
    An injected np.random.Generator `rng` replaces the global np.random; it draws
    with rng.random(x.shape), which gives the very values (and stream position)
    of rng.uniform(0, 1, x.shape) at two thirds of the cost.
    """

    def __init__(self, dropout_probability=0, *, rng=None):
        self.dropout_probability = dropout_probability
        self.rng = rng
        self.gate = None
        self.scale = None  # (1 - p) after an inference forward with p > 0, else None

    def forward(self, x, train=True):
        x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        self.gate = x > 0
        inference_dropout = not train and self.dropout_probability
        self.scale = 1 - self.dropout_probability if inference_dropout else None
        if train:
            self.gate &= self._uniform(x.shape) > self.dropout_probability
        out = np.where(self.gate, x, x.dtype.type(0))  # relu(x) * mask in one pass
        if self.scale is not None:
            out *= self.scale
        return out

    def _uniform(self, shape):
        """U[0, 1) draws of `shape`, float64."""
        if self.rng is None:
            return np.random.uniform(0, 1, shape)
        return self.rng.random(shape)

    def backward(self, grad_wrt_out):
        """grad_wrt_out: (dim, B) -> (dim, B), zero where x <= 0 or the unit was dropped."""
        grad = grad_wrt_out * self.gate
        # A scalar kept, not a scaled gate, so the training path costs nothing more.
        return grad if self.scale is None else grad * self.scale
