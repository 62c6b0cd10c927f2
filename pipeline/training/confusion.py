"""The confusion matrix of a trained model on one split: what a 12-class problem shows first."""
import numpy as np

from pipeline.training.loop import EVAL_CHUNK, inference_chunks


def confusion_matrix(model, split, chunk=EVAL_CHUNK):
    """counts: (num_classes, num_classes) int, row = true class, column = predicted class.

    split.x: (N, 11025) in the model's dtype; split.onehot: (num_classes, N).
    Inference mode (no dropout), in chunks so no (11025, N) copy is made.
    """
    num_classes = split.onehot.shape[0]
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    # A diverged run's weights overflow; its metrics say so, numpy's warnings need not.
    with np.errstate(over="ignore", invalid="ignore"):
        for logits, onehot in inference_chunks(model, split, chunk):
            np.add.at(counts, (onehot.argmax(axis=0), logits.argmax(axis=0)), 1)
    return counts
