"""Every entry point that loads weights reads them through
:mod:`mogazoo.checkpoint` (issue 25): a spy on ``torch.load`` records, for
each call, whether a frame of ``mogazoo/checkpoint/`` is on the stack. A
path that reads a checkpoint around it (mmengine's own loader, a bare
``torch.load``) fails here."""
import inspect
import os.path as osp
import shutil
import sys

import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import mogazoo
from mogazoo.checkpoint import load as checkpoint_load
from runner_utils import tiny_cfg, tool_exit, train

CHECKPOINT_PKG = osp.dirname(osp.abspath(checkpoint_load.__file__))
DIGITS = 'configs/moganet/moganet-xtiny_1xb64_digits.py'


@pytest.fixture
def loads(monkeypatch):
    """The ``torch.load`` calls of a test: one bool each, True when it came
    through mogazoo.checkpoint."""
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        files = [osp.abspath(f.filename) for f in inspect.stack(0)[1:]]
        calls.append(any(osp.dirname(f) == CHECKPOINT_PKG for f in files))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    return calls


def through_checkpoint(calls):
    return bool(calls) and all(calls)


def small_cfg(root, digits_subset, tmp_path, **options):
    return tiny_cfg(
        osp.join(root, DIGITS),
        digits_subset,
        str(tmp_path),
        options=options or None,
        epochs=1,
        samples=(16, 16))


def test_load_from(root, digits_subset, digits_checkpoint, tmp_path, loads):
    cfg = small_cfg(root, digits_subset, tmp_path)
    cfg.load_from = digits_checkpoint
    runner = mogazoo.engine.build_runner(cfg)
    runner.load_or_resume()
    assert through_checkpoint(loads), loads


def test_resume(root, digits_subset, digits_checkpoint, tmp_path, loads):
    ckpt = tmp_path / 'epoch_6.pth'
    shutil.copy(digits_checkpoint, ckpt)
    cfg = small_cfg(root, digits_subset, tmp_path)
    cfg.train_cfg.max_epochs = 6  # resumed at the end: nothing to train
    cfg.resume, cfg.load_from = True, str(ckpt)
    train(cfg)
    assert through_checkpoint(loads), loads


def test_init_cfg_pretrained(digits_checkpoint, loads):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(
            dict(
                type='MogaNet',
                arch='xtiny',
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint=digits_checkpoint,
                    prefix='backbone.')))
    backbone.init_weights()
    assert through_checkpoint(loads), loads


def test_tools_test(root, digits_subset, digits_checkpoint, tmp_path,
                    monkeypatch, loads):
    monkeypatch.chdir(root)
    tool_exit('tools/test.py', DIGITS, digits_checkpoint, '--work-dir',
              tmp_path, '--cfg-options',
              f'test_dataloader.dataset.data_root={digits_subset}',
              'test_dataloader.dataset.indices=8',
              'test_dataloader.num_workers=0',
              'test_dataloader.persistent_workers=False')
    assert through_checkpoint(loads), loads


@pytest.mark.parametrize('api', ['mogazoo', 'mmpretrain'])
def test_get_model_pretrained(root, digits_checkpoint, api, loads):
    config = osp.join(root, DIGITS)
    if api == 'mogazoo':
        mogazoo.get_model(config, pretrained=digits_checkpoint)
    else:
        import mmpretrain
        mmpretrain.get_model(config, pretrained=digits_checkpoint)
    assert through_checkpoint(loads), loads


def test_web_demo(root, digits_checkpoint, digits_subset, loads):
    pytest.importorskip('gradio')
    from mogazoo.apis.web_demo import build_web_demo
    example = next(
        osp.join(digits_subset, 'val', '0', f) for f in sorted(
            __import__('os').listdir(osp.join(digits_subset, 'val', '0'))))
    build_web_demo(osp.join(root, DIGITS), digits_checkpoint, [example])
    assert through_checkpoint(loads), loads


def test_converter_cli(digits_checkpoint, tmp_path, loads):
    # a mogazoo checkpoint is no official one: read, then refused by name
    code = tool_exit('tools/model_converters/moganet_to_mogazoo.py',
                     digits_checkpoint, tmp_path / 'out.pth')
    assert 'not MogaNet keys' in str(code)
    assert through_checkpoint(loads), loads


def test_export(root, digits_checkpoint, tmp_path, monkeypatch, loads):
    monkeypatch.chdir(root)
    code = tool_exit('tools/deployment/export.py', DIGITS, digits_checkpoint,
                     '--format', 'torchscript', '--out', tmp_path / 'm.pt')
    assert code in (None, 0), code
    assert through_checkpoint(loads), loads


def test_downstream_model(root, digits_checkpoint, loads):
    pytest.importorskip('mmdet')
    from mogazoo.apis import init_downstream_model
    init_downstream_model(
        osp.join(
            root, 'configs/moganet/det/'
            'retinanet_moganet-xtiny_fpn_digit-scenes.py'), digits_checkpoint)
    assert through_checkpoint(loads), loads


def test_spy_sees_a_load_around_mogazoo(tmp_path, loads):
    """The spy itself: a bare torch.load is not counted as through
    mogazoo.checkpoint."""
    path = tmp_path / 'w.pth'
    torch.save({'w': torch.ones(1)}, path)
    torch.load(path)
    assert loads == [False]
    assert sys.modules['mogazoo.checkpoint.load'] is checkpoint_load
