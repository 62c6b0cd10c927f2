"""The confusion matrix of a trained model on one split: what a 12-class problem shows first."""
import numpy as np

from pipeline.training.loop import EVAL_CHUNK


def confusion_matrix(model, split, chunk=EVAL_CHUNK):
    """counts: (num_classes, num_classes) int, row = true class, column = predicted class.

    split.x: (N, 11025) in the model's dtype; split.onehot: (num_classes, N).
    Inference mode (no dropout), in chunks so no (11025, N) copy is made.
    """
    num_classes, count = split.onehot.shape
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        predicted = model.forward(split.x[start:stop].T, train=False).argmax(axis=0)
        true = split.onehot[:, start:stop].argmax(axis=0)
        np.add.at(counts, (true, predicted), 1)
    return counts
