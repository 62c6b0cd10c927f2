"""Centred numerical gradients, to check any module's or model's backward.

Use float64 and tiny shapes: each entry costs two forward passes.
"""
import numpy as np


def numerical_gradient(f, array, eps=1e-6):
    """d f() / d array by centred differences; `array` is perturbed in place and restored.

    f: a function of no arguments returning a scalar that reads `array`.
    Returns an array shaped like `array`.
    """
    grad = np.zeros(array.shape, dtype=np.float64)
    flat = array.reshape(-1)  # a view: writes reach `array`
    if not np.shares_memory(flat, array):
        raise ValueError("numerical_gradient needs a contiguous array to perturb in place")
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        above = f()
        flat[i] = saved - eps
        below = f()
        flat[i] = saved
        grad.reshape(-1)[i] = (above - below) / (2 * eps)
    return grad


def relative_error(analytic, numeric):
    """max over entries of |a - n| / (|a| + |n|), safe where both are zero.

    Each entry against its own size: stricter than max|a - n| / max(|a| + |n|),
    which lets small entries be wrong as long as some entry is large.
    """
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)
    return float(np.max(np.abs(analytic - numeric) / scale))


def gradient_errors(module, x, forward=None, seed=0, eps=1e-6):
    """Relative errors of module.backward against numerical gradients.

    module: a Transform (LinearMap, ReLU, MLP, ...); x: its input (indim, B).
    forward: how to call the module (default module.forward); it must be
    deterministic, e.g. re-seed any dropout generator on every call.
    The checked scalar is sum(forward(x) * R) for a fixed random R, so the
    upstream gradient is R. Returns {"x": err, "<param name>": err, ...}.
    """
    forward = forward or module.forward
    x = np.array(x, dtype=np.float64)
    upstream = np.random.default_rng(seed).standard_normal(forward(x).shape)

    def scalar():
        return float(np.sum(forward(x) * upstream))

    module.zerograd()
    forward(x)
    errors = {"x": relative_error(module.backward(upstream), numerical_gradient(scalar, x, eps))}
    for name, value, grad in module.parameters():
        errors[name] = relative_error(grad, numerical_gradient(scalar, value, eps))
    return errors
