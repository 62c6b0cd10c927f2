"""Two BLAS calls numpy does not expose, made on numpy's own BLAS library.

    accumulate_outer(x, grad, beta, out, scale): out = beta * out + scale * grad @ x.T (GEMM)
    subtract_scaled(param, scale, vector):       param -= scale * vector               (AXPY)

numpy's matmul cannot add into an existing array (no GEMM beta), and
`a -= s * b` makes a temporary and two passes; these calls touch each array
once, on every BLAS thread. They go through ctypes to the CBLAS functions of
the OpenBLAS that numpy's wheels bundle (found with threadpoolctl), not through
scipy.linalg.blas: scipy ships a second OpenBLAS with a thread pool of its own,
and on 2 cores the two pools' waiting threads slowed the epoch several times over
(docs/performance.md). Each function returns False, doing nothing, when numpy's
BLAS is not a bundled OpenBLAS or the arrays do not fit the call (dtype other
than float32/float64, a layout that would need a copy); callers then use numpy.
Shapes that do not match raise ValueError whether or not BLAS is available:
BLAS trusts the sizes it is given and would read and write past the arrays.
"""
import ctypes
import os

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
# (symbol prefix, symbol suffix, integer type): numpy >= 2 wheels, then older ILP64 wheels.
_FLAVOURS = (("scipy_cblas_", "64_", ctypes.c_int64), ("cblas_", "64_", ctypes.c_int64))
_SCALARS = {np.dtype(np.float32): ("s", ctypes.c_float),
            np.dtype(np.float64): ("d", ctypes.c_double)}


def _numpy_openblas():
    """(ctypes library, symbol prefix, suffix, int type) of numpy's bundled OpenBLAS, or None."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    numpy_home = os.path.dirname(os.path.dirname(np.__file__))
    for pool in threadpool_info():
        path = pool.get("filepath", "")
        if pool.get("internal_api") == "openblas" and path.startswith(numpy_home) \
                and "numpy" in os.path.relpath(path, numpy_home).split(os.sep)[0]:
            library = ctypes.CDLL(path)
            for prefix, suffix, integer in _FLAVOURS:
                if hasattr(library, f"{prefix}sgemm{suffix}"):
                    return library, prefix, suffix, integer
    return None


def _functions():
    """{dtype: (gemm, axpy)} as ctypes functions with their argument types; {} when absent."""
    found = _numpy_openblas()
    if found is None:
        return {}
    library, prefix, suffix, integer = found
    functions = {}
    for dtype, (letter, scalar) in _SCALARS.items():
        gemm = getattr(library, f"{prefix}{letter}gemm{suffix}")
        gemm.argtypes = [ctypes.c_int] * 3 + [integer] * 3 + [
            scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer,
            scalar, ctypes.c_void_p, integer]
        gemm.restype = None
        axpy = getattr(library, f"{prefix}{letter}axpy{suffix}")
        axpy.argtypes = [integer, scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
        axpy.restype = None
        functions[dtype] = (gemm, axpy)
    return functions


_BY_DTYPE = _functions()


def available(dtype):
    """Whether the BLAS calls serve arrays of `dtype` in this process."""
    return np.dtype(dtype) in _BY_DTYPE


def _row_major(array):
    """(transpose flag, leading dimension) to hand `array` to row-major CBLAS, or None."""
    rows, cols = array.shape
    if array.flags.c_contiguous:
        return NO_TRANS, max(cols, 1)
    if array.flags.f_contiguous:
        return TRANS, max(rows, 1)
    return None


def accumulate_outer(x, grad, beta, out, scale=1.0):
    """out (m, n) = beta * out + scale * grad (m, B) @ x.T (B, n), in place; True when done.

    x: (n, B), grad: (m, B), out: C-ordered (m, n), all of out's dtype; with
    beta 0 the old contents of out are ignored. Other shapes raise ValueError.
    """
    _check_outer_shapes(x, grad, out)
    functions = _BY_DTYPE.get(out.dtype)
    a, b = _row_major(grad), _row_major(x.T)
    if (functions is None or a is None or b is None or not out.flags.c_contiguous
            or not out.flags.writeable or x.dtype != out.dtype or grad.dtype != out.dtype):
        return False
    (m, k), n = grad.shape, x.shape[0]
    functions[0](ROW_MAJOR, a[0], b[0], m, n, k, scale, grad.ctypes.data, a[1],
                 x.ctypes.data, b[1], beta, out.ctypes.data, max(n, 1))
    return True


def _check_outer_shapes(x, grad, out):
    """Raise ValueError unless x: (n, B), grad: (m, B) and out: (m, n)."""
    if not (x.ndim == grad.ndim == out.ndim == 2 and x.shape[1] == grad.shape[1]
            and out.shape == (grad.shape[0], x.shape[0])):
        raise ValueError(f"accumulate_outer: expected x (n, B), grad (m, B), out (m, n); "
                         f"got x {x.shape}, grad {grad.shape}, out {out.shape}")


def subtract_scaled(param, scale, vector):
    """param -= scale * vector, in place, one pass; True when done (C order).

    param, vector: the same shape, else ValueError (numpy would broadcast a
    smaller vector, which no caller means).
    """
    if param.shape != vector.shape:
        raise ValueError(f"subtract_scaled: param {param.shape} and vector {vector.shape} "
                         f"differ in shape")
    functions = _BY_DTYPE.get(param.dtype)
    if (functions is None or vector.dtype != param.dtype
            or not (param.flags.c_contiguous and vector.flags.c_contiguous)
            or not param.flags.writeable):
        return False
    functions[1](param.size, -scale, vector.ctypes.data, 1, param.ctypes.data, 1)
    return True
