"""Affine layer with momentum SGD: y = W x + b."""
import numpy as np

from . import blas
from .init import random_weight_init, zeros_bias_init
from .transform import Transform


def as_float_array(x, dtype):
    """x as an array of `dtype`, copied only when the dtype differs (ints are cast on entry)."""
    x = np.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


def shaped_copy(value, like, name):
    """A C-ordered copy of value with like's shape and dtype; ValueError naming `name` if
    value's shape differs (so a wrong shape is not silently broadcast)."""
    value = np.asarray(value)
    if value.shape != like.shape:
        raise ValueError(f"{name}: expected shape {like.shape}, got {value.shape}")
    return np.array(value, dtype=like.dtype, order="C")


class LinearMap(Transform):
    """y = W x + b on column-stacked batches.

    W: (outdim, indim), b: (outdim, 1); forward x: (indim, B) -> (outdim, B).
    Gradients accumulate in dW, db over backward calls until zerograd();
    step() applies momentum G_M = alpha * G_M + G, then W -= lr * G_M, with
    G_M kept in momentum_W (outdim, indim) and momentum_b (outdim, 1).

    The weight gradient is computed lazily: backward keeps (grad, x) and step()
    folds grad @ x.T straight into momentum_W with one GEMM (see mlpcore.blas),
    so no (outdim, indim) gradient is written and read back. Without momentum
    (alpha 0) the GEMM adds -lr * grad @ x.T straight into W, and momentum_W
    (which then equals that gradient) is computed only if read. Reading dW
    computes it. Hence the layer keeps a reference to the x of the last forward
    past backward: until zerograd(), and with alpha 0 until momentum_W is read
    or the next step. Do not write into that array in place before then.

    The lazy state, all cleared by zerograd() except _momentum_pair:
      _db_holds_sum   _db holds the summed db (set by backward or a read of db);
                      False: _db is stale and means zero.
      _dW_holds_sum   the same for _dW (set by folding a pending pair in, or a
                      read of dW).
      _pending        (grad (outdim, B), x (indim, B)) of the last backward, not
                      yet in _dW; folded in (and cleared) by the next backward or
                      a read of dW. step() uses it but keeps it, so dW still
                      reads the same gradient until zerograd().
      _momentum_pair  after a fused momentum-free step, the (grad, x) whose
                      product momentum_W holds but _momentum_W does not yet;
                      written and cleared by a read of momentum_W, cleared by
                      setting it, replaced by the next such step.
    """

    # Momentum entries that decay below the smallest normal float get stuck there:
    # with alpha > 0.5, alpha * k ulp rounds back to k ulp for k <= 4, so they never
    # reach zero, and every later step does arithmetic on subnormals, which many CPUs
    # run far slower. Every this many steps they are set to zero (what exact
    # arithmetic, or a CPU's flush-to-zero mode, would give); W never sees them, since
    # lr * (a few ulp) rounds to nothing.
    FLUSH_EVERY = 64

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
        self._momentum_W = np.zeros_like(self.W)
        self._momentum_b = np.zeros_like(self.b)
        self._dW_holds_sum = False  # else _dW's contents are stale and mean zero
        self._db_holds_sum = False
        self._pending = None        # (grad (outdim, B), x (indim, B)) not yet in _dW
        self._momentum_pair = None  # (grad, x) whose product momentum_W should hold
        self._steps = 0

    @property
    def momentum_W(self):
        """G_M for W (outdim, indim): after a momentum-free step, the gradient it applied."""
        if self._momentum_pair is not None:
            grad, x = self._momentum_pair
            self._momentum_pair = None
            np.matmul(grad, x.T, out=self._momentum_W)
        return self._momentum_W

    @momentum_W.setter
    def momentum_W(self, value):
        """A copy of value (outdim, indim), as this layer's dtype, C-ordered for BLAS."""
        self._momentum_W = shaped_copy(value, self.W, "momentum_W")
        self._momentum_pair = None

    @property
    def momentum_b(self):
        """G_M for b (outdim, 1)."""
        return self._momentum_b

    @momentum_b.setter
    def momentum_b(self, value):
        """A copy of value (outdim, 1), as this layer's dtype."""
        self._momentum_b = shaped_copy(value, self.b, "momentum_b")

    def forward(self, x):
        """x: (indim, B) -> W x + b: (outdim, B). Keeps a reference to x for backward."""
        x = as_float_array(x, self.dtype)
        if x.ndim != 2 or x.shape[0] != self.W.shape[1]:
            # A 1-D x would broadcast against b (outdim, 1) into an (outdim, outdim) output.
            raise ValueError(f"LinearMap.forward: expected x ({self.W.shape[1]}, B), "
                             f"got shape {x.shape}")
        self.x = x
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
        layer, whose input gradient nobody needs. db is summed now; the dW term
        is kept as (grad, x) until step() or a read of dW needs it (at most one
        such pair: an earlier one is added to the dW buffer first).
        Returns the cast gradient. A gradient not shaped (outdim, B), B the batch
        of the last forward, raises ValueError here: the product with x is only
        formed later, possibly by BLAS, which would not notice.
        """
        grad = np.array(grad_wrt_out, dtype=self.dtype)  # a copy: the caller may reuse its array
        self._check_grad_shape(grad)
        if self._db_holds_sum:
            self._db += grad.sum(axis=1, keepdims=True)
        else:
            np.sum(grad, axis=1, keepdims=True, out=self._db)
            self._db_holds_sum = True
        self._fold_pending()
        self._pending = (grad, self.x)
        return grad

    def _check_grad_shape(self, grad):
        """Raise ValueError unless grad: (outdim, B) for the x: (indim, B) of the last forward."""
        if self.x is None:
            raise ValueError("LinearMap.backward: no forward to take the gradient of")
        expected = (self.W.shape[0], *self.x.shape[1:])
        if grad.shape != expected:
            raise ValueError(f"LinearMap.backward: gradient {grad.shape} does not match the "
                             f"output {expected} of the last forward (x {self.x.shape})")

    def _fold_pending(self):
        """Add the pending grad @ x.T into the _dW buffer."""
        if self._pending is None:
            return
        grad, x = self._pending
        self._pending = None
        if self._dW_holds_sum:
            self._dW += grad @ x.T
        else:
            np.matmul(grad, x.T, out=self._dW)
            self._dW_holds_sum = True

    @property
    def dW(self):
        """Accumulated weight gradient (outdim, indim); zeros after zerograd()."""
        self._fold_pending()
        if not self._dW_holds_sum:
            self._dW.fill(0)
            self._dW_holds_sum = True
        return self._dW

    @property
    def db(self):
        """Accumulated bias gradient (outdim, 1); zeros after zerograd()."""
        if not self._db_holds_sum:
            self._db.fill(0)
            self._db_holds_sum = True
        return self._db

    def step(self):
        """momentum = alpha * momentum + gradient; param -= lr * momentum (W and b)."""
        if not self._step_weight_without_momentum():
            self._update_weight_momentum()
            if not blas.subtract_scaled(self.W, self.lr, self.momentum_W):
                self.W -= self.lr * self.momentum_W
        scale_and_add(self._momentum_b, self.alpha, self.db)
        self.b -= self.lr * self._momentum_b
        self._steps += 1
        if self.alpha and self._steps % self.FLUSH_EVERY == 0:
            flush_subnormals(self.momentum_W)
            flush_subnormals(self._momentum_b)

    def _step_weight_without_momentum(self):
        """With alpha 0 and one pending product: W -= lr * grad @ x.T as one GEMM.

        Returns False, doing nothing, where that does not apply. The product is
        rounded once, into W, where the two-step path rounds it into momentum_W
        first, so the two differ in the last bits; momentum_W is not written.
        """
        if self.alpha != 0 or self._pending is None or self._dW_holds_sum:
            return False
        grad, x = self._pending
        if not blas.accumulate_outer(x, grad, 1.0, self.W, scale=-self.lr):
            return False
        self._momentum_pair = self._pending
        return True

    def _update_weight_momentum(self):
        """momentum_W = alpha * momentum_W + dW, with the pending product as one GEMM."""
        momentum, alpha = self.momentum_W, self.alpha
        if self._pending is not None:
            grad, x = self._pending
            if self._dW_holds_sum:  # several backward calls: the earlier ones first
                scale_and_add(momentum, alpha, self._dW)
                alpha = 1
            # The pending pair stays: dW must still read the same gradient until zerograd().
            if not blas.accumulate_outer(x, grad, alpha, momentum):
                scale_and_add(momentum, alpha, grad @ x.T)
        else:
            scale_and_add(momentum, alpha, self.dW)

    def zerograd(self):
        self._dW_holds_sum = self._db_holds_sum = False
        self._pending = None

    def parameters(self):
        return [("W", self.W, self.dW), ("b", self.b, self.db)]

    def getW(self):
        return self.W

    def getb(self):
        return self.b

    def loadparams(self, w, b):
        """Copy in w: (outdim, indim) and b: (outdim, 1) or (outdim,), cast to self.dtype."""
        w = np.array(w, dtype=self.dtype)
        b = np.array(b, dtype=self.dtype)
        if b.shape == self.b.shape[:1]:
            b = b.reshape(self.b.shape)
        if w.shape != self.W.shape or b.shape != self.b.shape:
            raise ValueError(
                f"loadparams: expected W {self.W.shape} and b {self.b.shape}, "
                f"got W {w.shape} and b {b.shape}")
        self.W, self.b = w, b


def flush_subnormals(array):
    """Set entries whose magnitude is below the dtype's smallest normal number to zero."""
    if array.dtype.kind == "f":
        array[np.abs(array) < np.finfo(array.dtype).tiny] = 0


def scale_and_add(momentum, alpha, grad):
    """momentum = alpha * momentum + grad, in place; alpha 0 ignores the old values."""
    if alpha == 0:
        np.copyto(momentum, grad)
    else:
        if alpha != 1:
            momentum *= alpha
        momentum += grad
