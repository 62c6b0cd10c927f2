"""Unpickling numpy arrays without running anything else.

pickle.load would call whatever a file names (os.system, eval, ...). This
unpickler resolves only the few globals that rebuild plain ndarrays and refuses
every other name before anything runs. Tuples, lists, ints and bytes need no
globals at all.
"""
import importlib
import pickle

import numpy as np

# Protocols 0-4 rebuild an array with _reconstruct and set its state from a dtype
# and bytes; protocol 5 uses _frombuffer. NumPy 1 writes numpy.core.*, NumPy 2
# writes numpy._core.*: both spellings name the same functions.
CORE_FUNCTIONS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}
NUMPY_TYPES = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
# Python 3 writes bytes as _codecs.encode(text, "latin1") under protocols 0-2.
LATIN1_NAMES = {"latin1", "latin-1", "iso-8859-1", "iso8859-1"}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list; nothing it names was run."""


def numpy_core(submodule):
    """numpy._core.<submodule> (NumPy 2; stubs in NumPy >= 1.26.1), else numpy.core.<submodule>."""
    try:
        return importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{submodule}")


def latin1_encoder(source):
    """_codecs.encode restricted to the latin1 round trip that bytes objects use."""
    def encode(text, encoding):
        if not isinstance(text, str) or str(encoding).lower() not in LATIN1_NAMES:
            raise UnsafePickleError(f"{source}: refusing _codecs.encode with encoding "
                                    f"{encoding!r}; only latin1 (bytes objects) is allowed")
        return text.encode("latin1")
    return encode


class ArrayUnpickler(pickle.Unpickler):
    """Loads pickles of numpy arrays in containers; `source` names the file in errors."""

    def __init__(self, file, source):
        # latin1: Python 2 pickles store array bytes as str; latin1 maps them back 1:1.
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module, name):
        if (module, name) in CORE_FUNCTIONS:
            return getattr(numpy_core(module.rsplit(".", 1)[1]), name)
        if (module, name) in NUMPY_TYPES:
            return NUMPY_TYPES[module, name]
        if (module, name) == ("_codecs", "encode"):
            return latin1_encoder(self.source)
        raise UnsafePickleError(
            f"{self.source}: refusing to load global {module}.{name}: only numpy arrays "
            f"(in tuples or lists) are allowed; nothing in the file was run")


def load_arrays(file, source):
    """The object pickled in the binary `file`, if made only of arrays and containers."""
    return ArrayUnpickler(file, source).load()
