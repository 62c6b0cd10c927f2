"""Unpickling numpy arrays without running anything else or allocating what the file asks for.

pickle.load would call whatever a file names (os.system, eval, ...). This
unpickler resolves only the few globals that rebuild plain ndarrays and refuses
every other name before anything runs. Tuples, lists, ints and bytes need no
globals at all.

Nor may a file choose how much memory we spend. Before unpickling, every
opcode is scanned: a length (BINBYTES8, BYTEARRAY8, FRAME, ...) larger than
the bytes that follow, or a memo index far beyond the objects made so far, is
refused, since the C unpickler allocates either before reading; and a pickle
of more than MAX_OPCODES opcodes is refused, since every opcode may create an
object (4 MiB of EMPTY_DICT would be 4 million dicts, over 600 MiB). During
unpickling, numpy's constructors are never called with the file's shapes: an
array is only ever a view of bytes the pickle itself carried, of exactly the
size its shape and dtype declare, and all arrays together may not exceed the
pickle's own size.
"""
import io
import math
import pickle
import pickletools
import struct

import numpy as np

# Protocols 0-4 rebuild an array with _reconstruct and set its state from a dtype
# and bytes; protocol 5 uses _frombuffer. NumPy 1 writes numpy.core.*, NumPy 2
# writes numpy._core.*: both spellings name the same functions.
RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
FROMBUFFER = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
# Python 3 writes bytes as _codecs.encode(text, "latin1") under protocols 0-2.
LATIN1_NAMES = {"latin1", "latin-1", "iso-8859-1", "iso8859-1"}
# Numbers and fixed-size text (refused later by the dataset checks, by name):
# never objects, whose state is a list of arbitrary objects, nor records.
DTYPE_KINDS = "biufcSU"
MEMO_OPCODES = {"PUT", "BINPUT", "LONG_BINPUT"}
MAX_DEPTH = 16  # tuples and lists inside each other; the course nests 2 deep
# A course pickle of four arrays takes under 200 opcodes, whatever the arrays' size
# (each array's data is one opcode): this bounds the objects a pickle can make.
MAX_OPCODES = 10_000


# What a truncated or crafted pickle makes the unpickler (or numpy, given the pickle's
# dtype codes and shapes) raise; anything else would be a bug of ours, left to surface.
DAMAGE = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
          AttributeError, OverflowError, struct.error)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that is truncated or corrupt, or asks for a global off the allow-list or
    for an array beyond the limits.

    Nothing the file names was run and nothing it sized was allocated.
    """


def scan_opcodes(data, source):
    """Refuse lengths and memo indices the unpickler would allocate for before reading.

    pickletools reads each counted argument from an in-memory buffer, so a
    declared length larger than what remains fails there without allocating.
    """
    for count, (opcode, arg, position) in enumerate(pickletools.genops(data)):
        if count >= MAX_OPCODES:
            raise UnsafePickleError(f"{source}: refusing a pickle of more than {MAX_OPCODES} "
                                    f"opcodes; a pickle of four arrays needs a few hundred")
        if opcode.name == "FRAME" and arg > len(data) - position:
            raise UnsafePickleError(f"{source}: refusing a frame of {arg} bytes at byte "
                                    f"{position}; only {len(data) - position} bytes follow")
        # Picklers number memo entries 0, 1, 2, ...: an index beyond the opcodes seen
        # so far only serves to make the unpickler grow its memo table to that size.
        if opcode.name in MEMO_OPCODES and int(arg) > count:
            raise UnsafePickleError(f"{source}: refusing memo index {arg} at byte {position}; "
                                    f"at most {count} objects precede it")


class ArrayClass:
    """Stands for numpy.ndarray, which a pickle may only pass to _reconstruct."""
    __slots__ = ("source",)

    def __init__(self, source):
        self.source = source

    def __call__(self, *args):
        raise UnsafePickleError(f"{self.source}: refusing to call numpy.ndarray directly: "
                                f"it would allocate a shape the file chose, not the file's bytes")


class PendingDtype:
    """A numpy.dtype(...) call, checked; its BUILD state may only set the byte order."""
    __slots__ = ("dtype", "loader")

    def __init__(self, dtype, loader):
        self.dtype, self.loader = dtype, loader

    def __setstate__(self, state):
        self.dtype = self.loader.dtype_state(self.dtype, state)


class PendingArray:
    """An array announced by _reconstruct; its shape, dtype and bytes arrive with BUILD."""
    __slots__ = ("array", "loader")

    def __init__(self, loader):
        self.array, self.loader = None, loader

    def __setstate__(self, state):
        self.array = self.loader.array_state(state)


class ArrayUnpickler(pickle.Unpickler):
    """Loads pickles of numpy arrays in containers; `source` names the file in errors.

    max_bytes bounds the total size of all arrays; max_ndim the dimensions of each.
    """

    def __init__(self, file, source, max_bytes, max_ndim):
        # latin1: Python 2 pickles store array bytes as str; latin1 maps them back 1:1.
        super().__init__(file, encoding="latin1")
        self.source, self.max_ndim = source, max_ndim
        self.max_bytes = self.budget = max_bytes
        # id -> rebuilt object: a pickle may refer to one list many times (memo GET), and
        # rebuilding each reference anew would grow exponentially with the nesting.
        self.finished = {}

    def refuse(self, message):
        raise UnsafePickleError(f"{self.source}: {message}")

    def find_class(self, module, name):
        if (module, name) in RECONSTRUCT:
            return self.reconstruct
        if (module, name) in FROMBUFFER:
            return self.frombuffer
        if (module, name) == ("numpy", "ndarray"):
            return ArrayClass(self.source)
        if (module, name) == ("numpy", "dtype"):
            return self.make_dtype
        if (module, name) == ("_codecs", "encode"):
            return self.latin1_encode
        self.refuse(f"refusing to load global {module}.{name}: only numpy arrays "
                    f"(in tuples or lists) are allowed; nothing in the file was run")

    def latin1_encode(self, text, encoding):
        """_codecs.encode restricted to the latin1 round trip that bytes objects use."""
        if not isinstance(text, str) or str(encoding).lower() not in LATIN1_NAMES:
            self.refuse(f"refusing _codecs.encode with encoding {encoding!r}; "
                        f"only latin1 (bytes objects) is allowed")
        return text.encode("latin1")

    def make_dtype(self, spec, align=False, copy=True):
        """numpy.dtype(spec) for a plain numeric type named by a string, e.g. 'u1', 'f8'."""
        if not isinstance(spec, str):
            self.refuse(f"refusing numpy.dtype({spec!r}): expected a type code such as 'u1'")
        dtype = np.dtype(spec)
        if dtype.kind not in DTYPE_KINDS or dtype.fields is not None or dtype.subdtype:
            self.refuse(f"refusing dtype {dtype}: only arrays of numbers or fixed-size "
                        f"text are allowed")
        return PendingDtype(dtype, self)

    def dtype_state(self, dtype, state):
        """The dtype after its BUILD: numpy's state (version, byte order, None x3, ...)."""
        if not (isinstance(state, tuple) and len(state) in (8, 9)
                and state[1] in ("<", ">", "|", "=") and state[2:5] == (None, None, None)):
            self.refuse(f"refusing dtype state {state!r}: only a byte order may be set")
        return dtype.newbyteorder(state[1]) if state[1] in "<>" else dtype

    def reconstruct(self, cls, shape, code):
        """numpy's _reconstruct(ndarray, (0,), b'b'): an empty array to be filled by BUILD."""
        if not isinstance(cls, ArrayClass):
            self.refuse(f"refusing _reconstruct of {cls!r}: only numpy.ndarray is allowed")
        return PendingArray(self)

    def array_state(self, state):
        """ndarray state (version, shape, dtype, is_fortran, data) -> the array."""
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]
        if not (isinstance(state, tuple) and len(state) == 4):
            self.refuse(f"refusing array state of type {type(state).__name__}: "
                        f"expected (shape, dtype, is_fortran, bytes)")
        shape, dtype, fortran, data = state
        if isinstance(data, str):  # Python 2 str, decoded as latin1
            data = data.encode("latin1")
        return self.array(data, dtype, shape, "F" if fortran else "C")

    def frombuffer(self, data, dtype, shape, order):
        """numpy's _frombuffer(bytearray, dtype, shape, order), protocol 5's in-band arrays."""
        return self.array(data, dtype, shape, order)

    def array(self, data, dtype, shape, order):
        """A view of `data` (bytes the pickle carried) as `shape`, after every limit."""
        if not isinstance(dtype, PendingDtype):
            self.refuse(f"refusing array dtype {dtype!r}: expected numpy.dtype(...)")
        dtype = dtype.dtype
        if not (isinstance(shape, tuple) and len(shape) <= self.max_ndim
                and all(type(n) is int and 0 <= n <= self.max_bytes for n in shape)):
            self.refuse(f"refusing array shape {shape!r}: expected at most {self.max_ndim} "
                        f"sizes of 0..{self.max_bytes}")
        if not isinstance(data, (bytes, bytearray)) or order not in ("C", "F"):
            self.refuse(f"refusing array data of type {type(data).__name__} "
                        f"(order {order!r}): expected bytes in C or F order")
        nbytes = math.prod(shape) * dtype.itemsize
        if len(data) != nbytes:
            self.refuse(f"refusing array of shape {shape} and dtype {dtype}: it needs "
                        f"{nbytes} bytes but the pickle carries {len(data)} for it")
        if nbytes > self.budget:
            self.refuse(f"refusing array of shape {shape} and dtype {dtype}: all arrays "
                        f"together may not exceed the pickle's own {self.max_bytes} bytes")
        self.budget -= nbytes
        return np.frombuffer(data, dtype=dtype).reshape(shape, order=order)

    def finish(self, obj, depth=0):
        """The loaded object with every pending array resolved; only arrays, tuples, lists,
        dicts and plain scalars are allowed. Each object is rebuilt once, however often
        it is referred to."""
        if depth > MAX_DEPTH:
            self.refuse(f"refusing containers nested more than {MAX_DEPTH} deep")
        if id(obj) not in self.finished:
            self.finished[id(obj)] = self.rebuild(obj, depth)
        return self.finished[id(obj)]

    def rebuild(self, obj, depth):
        if isinstance(obj, PendingArray):
            if obj.array is None:
                self.refuse("refusing an array whose data never followed")
            return obj.array
        if isinstance(obj, (tuple, list)):
            return type(obj)(self.finish(item, depth + 1) for item in obj)
        if isinstance(obj, dict):
            return {self.finish(key, depth + 1): self.finish(value, depth + 1)
                    for key, value in obj.items()}
        if obj is None or isinstance(obj, (bool, int, float, str, bytes, np.ndarray)):
            return obj
        self.refuse(f"refusing an object of type {type(obj).__name__}: only numpy arrays "
                    f"in tuples, lists or dicts are allowed")


def load_arrays(data, source, max_ndim=32):
    """The object pickled in `data` (bytes), if made only of arrays and containers.

    Arrays are read-only views of `data`'s copies, at most max_ndim dimensions,
    together at most len(data) bytes.
    """
    try:
        scan_opcodes(data, source)
        unpickler = ArrayUnpickler(io.BytesIO(data), source, len(data), max_ndim)
        return unpickler.finish(unpickler.load())
    except UnsafePickleError:
        raise
    except DAMAGE as error:
        raise UnsafePickleError(f"{source}: truncated or corrupt pickle "
                                f"({type(error).__name__}: {error})") from None
