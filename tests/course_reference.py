"""A plain, loop-free-but-unoptimized re-statement of the course's MLP semantics.

Test oracle only: it follows the homework's text line by line (global np.random,
float64, one uniform draw per ReLU in layer order) so mlpcore can be compared to it.
"""
import numpy as np


def init_params(sizes):
    """Weights by the course's uniform Xavier rule, drawn in layer order; zero biases."""
    Ws, bs = [], []
    for indim, outdim in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6) / np.sqrt(indim + outdim)
        Ws.append(np.random.uniform(-bound, bound, (outdim, indim)))
        bs.append(np.zeros((outdim, 1)))
    return Ws, bs


def forward(Ws, bs, x, p, train):
    """Returns logits and the per-layer caches (input, pre-activation, mask)."""
    caches, h = [], x
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = W @ h + b
        if i == len(Ws) - 1:
            caches.append((h, None, None))
            return z, caches
        if train:
            mask = (np.random.uniform(0, 1, z.shape) > p).astype(float)
            out = np.maximum(z, 0) * mask
        else:
            mask = np.ones_like(z)
            out = (1 - p) * np.maximum(z, 0)
        caches.append((h, z, mask))
        h = out


def loss_and_grad(logits, onehot):
    exp = np.exp(logits - logits.max(axis=0))
    probs = exp / exp.sum(axis=0)
    batch = logits.shape[1]
    return -np.sum(onehot * np.log(probs)) / batch, (probs - onehot) / batch


def backward(Ws, caches, grad):
    """Parameter gradients, last layer first reversed back to first-first order."""
    dWs, dbs = [], []
    for i in reversed(range(len(Ws))):
        h, _, _ = caches[i]
        dWs.insert(0, grad @ h.T)
        dbs.insert(0, grad.sum(axis=1, keepdims=True))
        if i:
            _, z_prev, mask_prev = caches[i - 1]
            grad = (Ws[i].T @ grad) * mask_prev * (z_prev > 0)
    return dWs, dbs


def train_steps(Ws, bs, batches, alpha, lr, p):
    """Momentum SGD over `batches` of (x, onehot); returns losses and final params."""
    Ws, bs = [W.copy() for W in Ws], [b.copy() for b in bs]
    mWs, mbs = [np.zeros_like(W) for W in Ws], [np.zeros_like(b) for b in bs]
    losses = []
    for x, onehot in batches:
        logits, caches = forward(Ws, bs, x, p, train=True)
        loss, grad = loss_and_grad(logits, onehot)
        losses.append(loss)
        dWs, dbs = backward(Ws, caches, grad)
        for i in range(len(Ws)):
            mWs[i] = alpha * mWs[i] + dWs[i]
            mbs[i] = alpha * mbs[i] + dbs[i]
            Ws[i] = Ws[i] - lr * mWs[i]
            bs[i] = bs[i] - lr * mbs[i]
    return losses, Ws, bs
