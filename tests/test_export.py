"""ONNX / TorchScript export of the three families and
tools/deployment/export.py."""
import json
import os.path as osp
import re
import runpy
import sys

import numpy as np
import onnx
import pytest
import torch

import mogazoo
from mogazoo.deployment import check_exported, export_mode, export_model
from mogazoo.models.backbones.fastervit import TokenInitializer
from mogazoo.models.utils.deform_unfold import DeformUnfold
from runner_utils import load_tool

TINY_FASTERVIT = dict(
    embed_dims=[16, 32, 64, 128],
    depths=[1, 1, 2, 1],
    num_heads=[1, 2, 4, 8],
    window_sizes=[3, 3, 3, 3],
    hat=[False, False, True, False],
    stem_channels=16)
# name, config options, input (H, W): FasterViT at 80 x 96 pads its stride-16
# map (5 x 6) to 2 x 2 windows of 3, with carrier tokens; DGMN2 resizes its
# 224-px position tables
FAMILIES = {
    'moganet': ('moganet-xtiny_1xb64_digits', {}, (32, 32)),
    'fastervit':
    ('fastervit-0_32xb128_in1k',
     dict(
         model=dict(
             backbone=dict(
                 _delete_=True, type='FasterViT', arch=TINY_FASTERVIT),
             head=dict(in_channels=128, num_classes=10))), (80, 96)),
    'dgmn2': ('dgmn2-tiny_8xb128_in1k',
              dict(model=dict(head=dict(num_classes=10))), (64, 64)),
}
EXPORT_BATCH = {'onnx': 1, 'torchscript': 2}
CHECK_BATCH = 3
TOOL = 'tools/deployment/export.py'


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    return {
        fam: mogazoo.get_model(name, **opts)
        for fam, (name, opts, _) in FAMILIES.items()
    }


@pytest.mark.parametrize('fmt', ['onnx', 'torchscript'])
@pytest.mark.parametrize('family', list(FAMILIES))
def test_export_matches_pytorch_at_another_batch(family, fmt, models,
                                                 tmp_path):
    model, shape = models[family], FAMILIES[family][2]
    path = export_model(
        model,
        str(tmp_path / f'{family}.{fmt}'),
        fmt,
        shape,
        batch_size=EXPORT_BATCH[fmt])
    res = check_exported(model, path, fmt, shape, batch_size=CHECK_BATCH)
    print(f"{family} {fmt}: max abs diff {res['max_abs_diff']:.3g}")
    assert res['output_shape'] == [CHECK_BATCH, 10]
    assert res['passed'] and res['max_abs_diff'] < 1e-4, res
    assert res['max_abs_ref'] > 0


def test_export_mode_is_undone(models):
    if models['fastervit'].backbone.stages[2].global_tokenizer is None:
        pytest.fail('the FasterViT of the test has no carrier tokens')
    for family in ('dgmn2', 'fastervit'):
        with export_mode(models[family]):
            pass
    assert {
        m.sampler
        for m in models['dgmn2'].modules() if isinstance(m, DeformUnfold)
    } == {'auto'}
    assert not any('pool_params' in vars(m)
                   for m in models['fastervit'].modules()
                   if isinstance(m, TokenInitializer))


def test_softmax_output_and_metadata(models, tmp_path):
    model, shape = models['fastervit'], FAMILIES['fastervit'][2]
    path = export_model(
        model, str(tmp_path / 'sm.onnx'), 'onnx', shape, softmax=True)
    res = check_exported(model, path, 'onnx', shape, softmax=True)
    assert res['passed'] and res['max_abs_ref'] <= 1
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    out = sess.run(
        None, {'input': np.random.rand(2, 3, *shape).astype(np.float32)})[0]
    np.testing.assert_allclose(out.sum(1), 1, atol=1e-5)
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    meta = json.loads(props['mogazoo'])
    assert meta['output'] == 'softmax' and meta['input'] == ['N', 3, *shape]
    pre = model.data_preprocessor
    assert meta['mean'] == pre.mean.flatten().tolist()
    assert meta['to_rgb'] == pre.to_rgb
    exact = check_exported(model, path, 'onnx', shape, softmax=True, atol=0)
    assert exact['passed'] == (exact['max_abs_diff'] == 0)


def test_dynamo_exporter(models, tmp_path):
    model, shape = models['fastervit'], FAMILIES['fastervit'][2]
    path = export_model(
        model, str(tmp_path / 'dyn.onnx'), 'onnx', shape, dynamo=True)
    res = check_exported(model, path, 'onnx', shape, batch_size=CHECK_BATCH)
    assert res['passed'] and res['output_shape'] == [CHECK_BATCH, 10], res


@pytest.mark.filterwarnings('ignore:`torch.jit.load` is deprecated')
def test_export_tool(root, digits_subset, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(root)
    out = tmp_path / 'digits.pt'
    name = FAMILIES['moganet'][0]
    res = load_tool(TOOL).main([
        name, 'none', '--format', 'torchscript', '--out',
        str(out), '--cfg-options',
        f'test_dataloader.dataset.data_root={digits_subset}'
    ])
    stdout = capsys.readouterr().out
    assert 'N x 3 x 32 x 32' in stdout  # the test pipeline's size
    diff = float(re.search(r'max abs diff (\S+)', stdout)[1])
    assert diff < 1e-4 and res['passed']
    extra = {'mogazoo.json': ''}
    module = torch.jit.load(str(out), _extra_files=extra)
    meta = json.loads(extra['mogazoo.json'])
    assert meta['classes'] == [str(i) for i in range(10)]
    assert module(torch.zeros(5, 3, 32, 32)).shape == (5, 10)

    # run as a script, as the README does
    monkeypatch.setattr(
        sys, 'argv',
        ['export.py', name, str(tmp_path / 'gone.pth')])
    with pytest.raises(SystemExit, match='gone.pth'):
        runpy.run_path(osp.join(root, TOOL), run_name='__main__')
