"""How images are encoded for the network: which value is ink, and how they are flattened.

One function serves the prepare stage (the dataset) and predict (new images),
so a network always sees new images exactly as it saw its training data.
"""
import numpy as np


def encode_images(x, pixels, order, side):
    """x: (N, side * side) 0/1 pixels as stored, row by row -> (N, side * side), C-ordered.

    pixels: "stored" (1 = background, as in the release's PNGs) or "ink" (1 = ink);
    order: "C" (row by row, as the course's file) or "F" (column by column).
    """
    if pixels == "ink":
        x = 1 - x
    if order == "F":
        x = x.reshape(-1, side, side).transpose(0, 2, 1).reshape(len(x), -1)
    return np.ascontiguousarray(x)
