"""Weight and bias initializers.

Every weight initializer has the signature (input, output, rng=None) and
returns an (output, input) float64 array. With rng=None it draws from the
global np.random functions, so np.random.seed(s) reproduces the course's
weights; an injected np.random.Generator keeps global state untouched.
"""
import numpy as np


def _uniform(bound, shape, rng):
    source = np.random if rng is None else rng
    return source.uniform(-bound, bound, shape)


def random_weight_init(input, output, rng=None):
    """The course's uniform Xavier (Glorot) init: U(-b, b), b = sqrt(6)/sqrt(input + output)."""
    bound = np.sqrt(6) / np.sqrt(input + output)
    return _uniform(bound, (output, input), rng)


def he_uniform_init(input, output, rng=None):
    """He (Kaiming) uniform init for ReLU layers: U(-b, b), b = sqrt(6 / input)."""
    return _uniform(np.sqrt(6 / input), (output, input), rng)


def he_normal_init(input, output, rng=None):
    """He (Kaiming) normal init: N(0, 2 / input)."""
    source = np.random if rng is None else rng
    return source.normal(0.0, np.sqrt(2 / input), (output, input))


def zeros_bias_init(outd):
    """Zero biases, shaped (outd, 1)."""
    return np.zeros((outd, 1))


WEIGHT_INITS = {
    "xavier_uniform": random_weight_init,
    "he_uniform": he_uniform_init,
    "he_normal": he_normal_init,
}


def weight_init(name):
    """The weight initializer registered as `name` (see WEIGHT_INITS)."""
    try:
        return WEIGHT_INITS[name]
    except KeyError:
        raise ValueError(
            f"unknown weight init {name!r}; expected one of {sorted(WEIGHT_INITS)}"
        ) from None
