import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mogazoo  # noqa: F401  (allow-lists mmengine checkpoint objects)


def test_mmengine_objects_load_with_weights_only(tmp_path):
    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float64(0.25))
    hub.update_info('epoch_arr', np.arange(3))
    path = tmp_path / 'ckpt.pth'
    torch.save(
        {
            'meta': {
                'message_hub': hub.state_dict()
            },
            'state_dict': {
                'w': torch.ones(2)
            }
        }, path)
    ckpt = torch.load(path, weights_only=True)
    buf = ckpt['meta']['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(0.375)


class Evil:

    def __reduce__(self):
        return (print, ('owned', ))


def test_arbitrary_pickles_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    # and that is also the default of torch.load
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


class GetattrGadget:
    """Pickles as getattr(HistoryBuffer, '__init__'): a look-up outside the
    four statistics methods, which must be refused."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_answered_only_for_history_buffer_statistics(tmp_path):
    path = tmp_path / 'gadget.pth'
    torch.save({'x': GetattrGadget()}, path)
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        torch.load(path, weights_only=True)
