"""Affine layer with momentum SGD: y = W x + b."""
import numpy as np

from .init import random_weight_init, zeros_bias_init
from .transform import Transform


def as_float_array(x, dtype):
    """x as an array of `dtype`, copied only when the dtype differs (ints are cast on entry)."""
    x = np.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


class LinearMap(Transform):
    """y = W x + b on column-stacked batches.

    W: (outdim, indim), b: (outdim, 1); forward x: (indim, B) -> (outdim, B).
    Gradients accumulate in dW, db over backward calls until zerograd();
    step() applies momentum G_M = alpha * G_M + G, then W -= lr * G_M.
    """

    def __init__(self, indim, outdim, alpha=0, lr=0.01, *,
                 init=random_weight_init, rng=None, dtype=np.float64):
        self.alpha = alpha
        self.lr = lr
        self.dtype = np.dtype(dtype)
        self.W = np.asarray(init(indim, outdim, rng), dtype=self.dtype)
        self.b = np.asarray(zeros_bias_init(outdim), dtype=self.dtype)
        self._allocate_buffers()
        self.x = None

    def _allocate_buffers(self):
        self._dW = np.zeros_like(self.W)
        self._db = np.zeros_like(self.b)
        self.momentum_W = np.zeros_like(self.W)
        self.momentum_b = np.zeros_like(self.b)
        self._scratch_W = np.empty_like(self.W)  # reused by step(): no W-sized temporary per update
        self._grads_are_zero = True

    def forward(self, x):
        """x: (indim, B) -> W x + b: (outdim, B). Keeps a reference to x for backward."""
        self.x = as_float_array(x, self.dtype)
        out = self.W @ self.x
        out += self.b
        return out

    def backward(self, grad_wrt_out):
        """grad_wrt_out: (outdim, B) -> W.T @ grad: (indim, B), using the current W."""
        grad = self.accumulate_grads(grad_wrt_out)
        return self.W.T @ grad

    def accumulate_grads(self, grad_wrt_out):
        """Add the batch gradients to dW (outdim, indim) and db (outdim, 1).

        The parameter half of backward(); a model calls it alone for its first
        layer, whose input gradient nobody needs. Returns the cast gradient.
        """
        grad = as_float_array(grad_wrt_out, self.dtype)
        if self._grads_are_zero:
            # Write straight into the buffers: no (outdim, indim) temporary, no zero fill.
            np.matmul(grad, self.x.T, out=self._dW)
            np.sum(grad, axis=1, keepdims=True, out=self._db)
            self._grads_are_zero = False
        else:
            self._dW += grad @ self.x.T
            self._db += grad.sum(axis=1, keepdims=True)
        return grad

    @property
    def dW(self):
        """Accumulated weight gradient (outdim, indim); zeros after zerograd()."""
        self._clear_if_zeroed()
        return self._dW

    @property
    def db(self):
        """Accumulated bias gradient (outdim, 1); zeros after zerograd()."""
        self._clear_if_zeroed()
        return self._db

    def _clear_if_zeroed(self):
        # zerograd() only raises a flag: the next backward overwrites the buffers anyway,
        # so they are filled with zeros only if somebody reads them before that.
        if self._grads_are_zero:
            self._dW.fill(0)
            self._db.fill(0)

    def step(self):
        self._momentum_update(self.W, self.dW, self.momentum_W, self._scratch_W)
        self._momentum_update(self.b, self.db, self.momentum_b, np.empty_like(self.b))

    def _momentum_update(self, param, grad, momentum, scratch):
        """In place: momentum = alpha * momentum + grad; param -= lr * momentum."""
        if self.alpha:
            momentum *= self.alpha
            momentum += grad
        else:  # 0 * momentum + grad is grad: one pass instead of two
            np.copyto(momentum, grad)
        np.multiply(momentum, self.lr, out=scratch)
        param -= scratch

    def zerograd(self):
        self._grads_are_zero = True

    def parameters(self):
        return [("W", self.W, self.dW), ("b", self.b, self.db)]

    def getW(self):
        return self.W

    def getb(self):
        return self.b

    def loadparams(self, w, b):
        """Copy in w: (outdim, indim) and b: (outdim, 1), cast to this layer's dtype."""
        w = np.array(w, dtype=self.dtype)
        b = np.array(b, dtype=self.dtype).reshape(-1, 1)
        if w.shape != self.W.shape or b.shape != self.b.shape:
            raise ValueError(
                f"loadparams: expected W {self.W.shape} and b {self.b.shape}, "
                f"got W {w.shape} and b {b.shape}")
        self.W, self.b = w, b
