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


# The patches of mogazoo/compat.py, each checked against the upstream it was
# written against: these fail when an upgrade changes what they replace.

UPSTREAM = r"""
import inspect, json
import mmengine, mmpretrain
import mmpretrain.apis, mmpretrain.apis.base, mmpretrain.apis.model
from mmengine.runner.checkpoint import CheckpointLoader
schemes = CheckpointLoader._schemes
print(json.dumps(dict(
    mmengine=mmengine.__version__, mmpretrain=mmpretrain.__version__,
    local=[schemes[''].__module__, schemes[''].__name__],
    http=[schemes['https://'].__name__, schemes['http://'].__name__],
    get_model=len({id(m.get_model) for m in (
        mmpretrain, mmpretrain.apis, mmpretrain.apis.model,
        mmpretrain.apis.base)}),
    params=list(inspect.signature(
        mmpretrain.apis.model.get_model).parameters))))
"""


def upstream_facts():
    """What mmengine and mmpretrain offer in a process without mogazoo."""
    import json
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', UPSTREAM],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_patched_upstream_is_the_one_compat_was_written_against(root):
    from mogazoo import compat
    facts = upstream_facts()
    with open(f'{root}/requirements/mminstall.txt') as f:
        pins = f.read()
    # versions: what compat names, what requirements pin, what runs
    assert facts['mmengine'] == compat.MMENGINE_VERSION
    assert f'mmengine=={compat.MMENGINE_VERSION}' in pins
    assert facts['mmpretrain'] == compat.MMPRETRAIN_VERSION
    assert f'mmpretrain=={compat.MMPRETRAIN_VERSION}' in pins
    # 2. the local and http(s) schemes replaced are mmengine's own
    assert facts['local'] == ['mmengine.runner.checkpoint', 'load_from_local']
    assert facts['http'] == ['load_from_http', 'load_from_http']
    # 3. one get_model bound in the four modules, with the signature that
    # compat._get_model takes
    assert facts['get_model'] == 1
    assert facts['params'] == [
        'model', 'pretrained', 'device', 'device_map', 'offload_folder',
        'url_mapping', 'kwargs'
    ]


def test_compat_patches_are_applied_by_import_mogazoo():
    import mmpretrain.apis.base
    from mmengine.runner.checkpoint import CheckpointLoader

    from mogazoo import compat
    assert CheckpointLoader._schemes[''] is compat._load_local
    assert CheckpointLoader._schemes['https://'] is compat._load_http
    for module in compat.GET_MODEL_MODULES:
        assert module.get_model is compat._get_model
    assert mmpretrain.apis.base.get_model is compat._get_model
    assert compat.MMPRETRAIN_GET_MODEL.__module__ == 'mmpretrain.apis.model'


def test_allow_list_survives_mogazoo_reads(tmp_path):
    """mogazoo's own reads allow mmengine's contents in a context; leaving
    it must not take the allow-list of ``import mogazoo`` away."""
    from mogazoo.checkpoint import load_torch_file
    path = tmp_path / 'ckpt.pth'
    torch.save({'buf': HistoryBuffer([1.0, 2.0], [1, 1])}, path)
    before = len(torch.serialization.get_safe_globals())
    assert load_torch_file(str(path))['buf'].mean() == pytest.approx(1.5)
    assert len(torch.serialization.get_safe_globals()) == before
    assert torch.load(path, weights_only=True)['buf'].mean() == \
        pytest.approx(1.5)
