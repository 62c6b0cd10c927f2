"""Multi-layer perceptrons: Linear, ReLU(dropout), ..., Linear."""
import numpy as np

from .init import weight_init
from .linear import LinearMap
from .relu import ReLU
from .transform import Transform


class MLP(Transform):
    """Any number of hidden layers; forward x: (indim, B) -> logits (outdim, B).

    Every hidden layer is LinearMap then ReLU(dropout_probability); the ReLUs
    draw their dropout masks in layer order. `init` names a weight init from
    mlpcore.init.WEIGHT_INITS; `rng` (a np.random.Generator) replaces the global
    np.random for both initialization and dropout; `dtype` is float64 or float32.
    """

    def __init__(self, indim, outdim, hidden=(100,), alpha=0.1, dropout_probability=0,
                 lr=0.01, *, init="xavier_uniform", rng=None, dtype=np.float64):
        if len(hidden) == 0:
            raise ValueError("MLP: `hidden` must list at least one hidden layer size")
        init_fn = weight_init(init)
        sizes = [indim, *hidden, outdim]
        self.linears = [LinearMap(i, o, alpha, lr, init=init_fn, rng=rng, dtype=dtype)
                        for i, o in zip(sizes[:-1], sizes[1:])]
        self.relus = [ReLU(dropout_probability, rng=rng) for _ in hidden]
        self.layers = [layer for pair in zip(self.linears, self.relus) for layer in pair]
        self.layers.append(self.linears[-1])

    @property
    def dtype(self):
        return self.linears[0].dtype

    def forward(self, x, train=True):
        for layer in self.layers:
            x = layer.forward(x, train) if isinstance(layer, ReLU) else layer.forward(x)
        return x

    def backward(self, grad_wrt_out, input_grad=True):
        """grad_wrt_out: (outdim, B). Accumulates every layer's parameter gradients.

        Returns the gradient w.r.t. the input (indim, B), or None when
        input_grad=False: training skips that (indim x B) product.
        """
        grad = grad_wrt_out
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        if input_grad:
            return self.layers[0].backward(grad)
        self.linears[0].accumulate_grads(grad)
        return None

    def step(self):
        for linear in self.linears:
            linear.step()

    def zerograd(self):
        for linear in self.linears:
            linear.zerograd()

    def parameters(self):
        return [(f"{name}{i}", value, grad)
                for i, linear in enumerate(self.linears)
                for name, value, grad in linear.parameters()]

    def loadparams(self, Ws, bs):
        """Ws, bs: lists of weights (out, in) and biases (out, 1), first layer first."""
        if len(Ws) != len(self.linears) or len(bs) != len(self.linears):
            raise ValueError(f"loadparams: expected {len(self.linears)} weights and biases, "
                             f"got {len(Ws)} and {len(bs)}")
        for linear, w, b in zip(self.linears, Ws, bs):
            linear.loadparams(w, b)

    def getWs(self):
        return [linear.getW() for linear in self.linears]

    def getbs(self):
        return [linear.getb() for linear in self.linears]


class SingleLayerMLP(MLP):
    """The course's Linear, ReLU(dropout), Linear network."""

    def __init__(self, indim, outdim, hiddenlayer=100, alpha=0.1, dropout_probability=0,
                 lr=0.01, **options):
        super().__init__(indim, outdim, [hiddenlayer], alpha, dropout_probability, lr, **options)


class TwoLayerMLP(MLP):
    """The course's Linear, ReLU, Linear, ReLU, Linear network."""

    def __init__(self, indim, outdim, hiddenlayers=(100, 100), alpha=0.1,
                 dropout_probability=0, lr=0.01, **options):
        if len(hiddenlayers) != 2:
            raise ValueError(f"TwoLayerMLP: hiddenlayers must hold 2 sizes, got {hiddenlayers!r}")
        super().__init__(indim, outdim, list(hiddenlayers), alpha, dropout_probability, lr,
                         **options)
