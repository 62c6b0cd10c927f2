"""mlpcore: the course's numpy MLP modules (CMU 10-417/617 HW1), vectorized.

Batches are column-stacked, shaped (dim, batch). `import mlpcore as mlp`
serves code written for the homework template.
"""
from . import gradcheck
from .init import (WEIGHT_INITS, he_normal_init, he_uniform_init, random_weight_init,
                   weight_init, zeros_bias_init)
from .linear import LinearMap
from .loss import SoftmaxCrossEntropyLoss, labels2onehot
from .mlp import MLP, SingleLayerMLP, TwoLayerMLP
from .relu import ReLU
from .serialize import load_params, save_params
from .transform import Transform

__all__ = [
    "Transform", "LinearMap", "ReLU", "SoftmaxCrossEntropyLoss", "SingleLayerMLP",
    "TwoLayerMLP", "MLP", "random_weight_init", "zeros_bias_init", "he_uniform_init",
    "he_normal_init", "weight_init", "WEIGHT_INITS", "labels2onehot", "gradcheck",
    "save_params", "load_params",
]
