"""Softmax cross-entropy on column-stacked logits, and one-hot labels."""
import numpy as np


def labels2onehot(labels, num_classes=12):
    """Integer labels (N,) -> one-hot float64 (N, num_classes); the loss takes its transpose."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels2onehot: expected integer labels of shape (N,), "
                         f"got dtype {labels.dtype} shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels2onehot: labels must lie in 0..{num_classes - 1}, "
                         f"found {labels.min()}..{labels.max()}")
    return np.eye(num_classes)[labels]


class SoftmaxCrossEntropyLoss:
    """Mean cross-entropy of softmax(logits) against one-hot labels.

    forward(logits, labels): both (num_classes, B) -> scalar mean loss.
    backward(): (softmax - labels) / B, shaped (num_classes, B).
    getAccu(): accuracy of the last forward, in [0, 1].

    The accuracy is worked out when first read (training never reads it), from
    the logits and labels of the last forward: do not write into them before then.
    """

    def __init__(self):
        self.probs = None
        self.labels = None
        self._accuracy = None
        self._unscored = None  # (logits, labels) whose accuracy is not yet computed

    @property
    def accuracy(self):
        if self._unscored is not None:
            logits, labels = self._unscored
            self._unscored = None
            self._accuracy = np.mean(logits.argmax(axis=0) == labels.argmax(axis=0))
        return self._accuracy

    def forward(self, logits, labels):
        logits = np.asarray(logits)
        if logits.dtype.kind != "f":
            logits = logits.astype(np.float64)
        labels = np.asarray(labels, dtype=logits.dtype)
        if logits.shape != labels.shape:
            raise ValueError(f"SoftmaxCrossEntropyLoss: logits {logits.shape} and "
                             f"labels {labels.shape} must have the same (num_classes, B) shape")
        shifted = logits - logits.max(axis=0, keepdims=True)  # exp never overflows
        exp_shifted = np.exp(shifted)
        totals = exp_shifted.sum(axis=0, keepdims=True)
        self.probs = exp_shifted / totals
        self.labels = labels
        self._unscored = (logits, labels)
        log_probs = shifted - np.log(totals)
        return -np.sum(labels * log_probs) / logits.shape[1]

    def backward(self):
        return (self.probs - self.labels) / self.labels.shape[1]

    def getAccu(self):
        return self.accuracy
