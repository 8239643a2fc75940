"""Compatibility of mmengine 0.10.7 with torch >= 2.6.

torch >= 2.6 loads files with ``weights_only=True`` by default, and mmengine
0.10.7 calls ``torch.load`` without saying otherwise, so resuming an mmengine
checkpoint fails on the objects mmengine itself pickles into it ("Unsupported
global: mmengine.logging.history_buffer.HistoryBuffer", mmengine #1655).

Rather than turning ``weights_only`` off, which would let any pickle run code,
:func:`allow_mmengine_checkpoints` adds exactly the classes mmengine writes
into a checkpoint to torch's allow-list of safe globals. Everything else in a
file is still refused by torch's restricted unpickler.
"""
import pickle

import torch

_DONE = False


def _mmengine_checkpoint_globals():
    """Classes and functions that mmengine's CheckpointHook and runner
    pickle into a checkpoint (message hub log buffers and the numpy arrays,
    dtypes and scalars they hold)."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar

    dtype_classes = []
    if hasattr(np, 'dtypes'):  # numpy >= 1.25 pickles dtypes by class
        dtype_classes = [
            getattr(np.dtypes, name) for name in dir(np.dtypes)
            if name.endswith('DType')
        ]
    # files written under numpy 1.x (mmcv 1.x checkpoints: mmseg 0.x stores
    # its best mIoU as a numpy scalar in meta.hook_msgs) name these
    # numpy.core.multiarray.*, which numpy 2 moved to numpy._core
    numpy1_names = [(_reconstruct, 'numpy.core.multiarray._reconstruct'),
                    (scalar, 'numpy.core.multiarray.scalar')]
    return [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype,
            (_history_buffer_getattr, 'builtins.getattr')] + numpy1_names + \
        dtype_classes


def _history_buffer_getattr(obj, name):
    """Stands in for ``getattr`` while loading with ``weights_only``.

    A pickled ``HistoryBuffer`` refers to its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would
    let a file reach any attribute of any allowed class (and call it), so
    only those four look-ups are answered; anything else is refused.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')


def allow_mmengine_checkpoints():
    """Allow-list mmengine's checkpoint contents for ``torch.load``.

    Idempotent; a no-op on torch versions without
    ``torch.serialization.add_safe_globals``.
    """
    global _DONE
    if _DONE or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(_mmengine_checkpoint_globals())
    _DONE = True
