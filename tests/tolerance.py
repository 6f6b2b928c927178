"""Tolerances shared by the property tests of ``helpers.scratch`` against TensorFlow.

1e-6 in float64 and 1e-4 in float32, relative and absolute, as the book promises.
"""

import numpy as np
from hypothesis import settings

TOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4}

#: Property tests: enough examples to cover the shapes, no deadline (TensorFlow's first
#: call of each op is slow).
FAST = settings(max_examples=50, deadline=None)


def assert_close(ours, reference, dtype, tol=None):
    """Same dtype as the input, and within the dtype's tolerance (or ``tol``) of the reference."""
    ours = np.asarray(ours)
    assert ours.dtype == dtype
    tol = TOL[np.dtype(dtype)] if tol is None else tol
    np.testing.assert_allclose(ours, np.asarray(reference), rtol=tol, atol=tol)
