"""OpenMixup MogaNet classifiers (MogaNet-T*) to mogazoo.

MogaNet-T* is released by Westlake-AI/openmixup as an mmcv 1.x checkpoint
of its ``MixUpClassification`` model. The key names and shapes below are
written from OpenMixup's sources, not from mogazoo's model nor its
converter:

- ``openmixup/models/backbones/moganet.py`` (the same module names since
  the MogaNet release, commit a969ef9): ``StackConvPatchEmbed.projection``
  = Sequential(Conv2d(3, C/2, 3, 2), BN, GELU, Conv2d(C/2, C, 3, 2), BN);
  ``ConvPatchEmbed`` (mmcv's ``PatchEmbed``): ``projection`` Conv2d(3x3,
  stride 2, bias) and ``norm`` BN; ``MogaBlock``: ``norm1``, ``attn``
  (``MultiOrderGatedAggregation``: ``proj_1``, ``gate``, ``value``
  (``MultiOrderDWConv``: ``DW_conv0`` 5x5 on C, ``DW_conv1`` 5x5 on 3C/8,
  ``DW_conv2`` 7x7 on C/2, ``PW_conv``), ``proj_2``, ``sigma.scale``),
  ``norm2``, ``mlp`` (``ChannelAggregationFFN``: ``fc1``, ``dwconv`` 3x3,
  ``fc2``, ``decompose`` H -> 1, ``sigma.scale``), ``layer_scale_1`` /
  ``layer_scale_2`` parameters (1, C, 1, 1); ``MogaNet.norm{i}``: a BN
  (``stem_norm_cfg=dict(type='BN')`` in ``moga_tiny.py``) for every stage;
- ``openmixup/models/heads/cls_mixup_head.py``: ``ClsMixupHead.fc`` =
  ``nn.Linear(in_channels, num_classes)``;
- ``openmixup/core/hooks/ema_hook.py``: ``EMAHook`` registers
  ``ema_<name with . as _>`` buffers on the model;
- mmcv 1.x's ``save_checkpoint``: ``{'meta', 'state_dict', 'optimizer'}``.

The converted weights must load strictly into the T* config and give the
logits of the same weights converted through the MogaNet repository's
layout (the tested official path of ``convert_moganet``).
"""
import os
import runpy
import sys
from collections import OrderedDict
from unittest import mock

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from mmpretrain.models import build_classifier

import mogazoo
from mogazoo.checkpoint.converters import (convert_moganet,
                                           convert_moganet_downstream,
                                           select_state_dict)
from mogazoo.checkpoint.converters.moganet import convert_moganet_openmixup
from mogazoo.checkpoint.converters.official import convert_if_official
from mogazoo.utils import load_config

NAME = 'moganet-tiny_8xb128-3aug_in1k-256px'
CONFIG = f'configs/moganet/{NAME}.py'
URL = ('https://github.com/Westlake-AI/openmixup/releases/download/'
       'moganet-in1k-weights/moga_tiny_deit3_sz256_lr2e_3_8xb128_fp16_'
       'ep300.pth')
#: OpenMixup's arch_zoo['tiny']
TINY = dict(
    embed_dims=[32, 64, 128, 256],
    depths=[3, 3, 12, 2],
    ffn_ratios=[8, 8, 4, 4])

# --------------------------------------- the OpenMixup layout, from source


def _conv(name, cout, cin, k, bias=True):
    return [(f'{name}.weight', (cout, cin, k, k))] + \
        ([(f'{name}.bias', (cout, ))] if bias else [])


def _bn(name, c):
    return [(f'{name}.{p}', (c, )) for p in ('weight', 'bias', 'running_mean',
                                             'running_var')] + \
        [(f'{name}.num_batches_tracked', ())]


def _block(p, c, ratio):
    """MogaBlock of openmixup/models/backbones/moganet.py."""
    c1, c2 = int(3 / 8 * c), int(4 / 8 * c)  # channel_split [1, 3, 4]
    hidden = int(c * ratio)
    keys = _bn(f'{p}.norm1', c)
    keys += _conv(f'{p}.attn.proj_1', c, c, 1)
    keys += _conv(f'{p}.attn.gate', c, c, 1)
    keys += _conv(f'{p}.attn.value.DW_conv0', c, 1, 5)
    keys += _conv(f'{p}.attn.value.DW_conv1', c1, 1, 5)
    keys += _conv(f'{p}.attn.value.DW_conv2', c2, 1, 7)
    keys += _conv(f'{p}.attn.value.PW_conv', c, c, 1)
    keys += _conv(f'{p}.attn.proj_2', c, c, 1)
    keys += [(f'{p}.attn.sigma.scale', (1, c, 1, 1))]
    keys += _bn(f'{p}.norm2', c)
    keys += _conv(f'{p}.mlp.fc1', hidden, c, 1)
    keys += _conv(f'{p}.mlp.dwconv', hidden, 1, 3)
    keys += _conv(f'{p}.mlp.fc2', c, hidden, 1)
    keys += _conv(f'{p}.mlp.decompose', 1, hidden, 1)
    keys += [(f'{p}.mlp.sigma.scale', (1, hidden, 1, 1))]
    keys += [(f'{p}.layer_scale_1', (1, c, 1, 1)),
             (f'{p}.layer_scale_2', (1, c, 1, 1))]
    return keys


def openmixup_keys(arch=TINY, num_classes=1000):
    """(key, shape) of OpenMixup's MixUpClassification(MogaNet,
    ClsMixupHead) state dict, in its module order."""
    keys = []
    dims = arch['embed_dims']
    for i, depth in enumerate(arch['depths']):
        c = dims[i]
        if i == 0:  # StackConvPatchEmbed
            keys += _conv('backbone.patch_embed1.projection.0', c // 2, 3, 3)
            keys += _bn('backbone.patch_embed1.projection.1', c // 2)
            keys += _conv('backbone.patch_embed1.projection.3', c, c // 2, 3)
            keys += _bn('backbone.patch_embed1.projection.4', c)
        else:  # ConvPatchEmbed (mmcv PatchEmbed)
            keys += _conv(f'backbone.patch_embed{i + 1}.projection', c,
                          dims[i - 1], 3)
            keys += _bn(f'backbone.patch_embed{i + 1}.norm', c)
        for j in range(depth):
            keys += _block(f'backbone.blocks{i + 1}.{j}', c,
                           arch['ffn_ratios'][i])
        keys += _bn(f'backbone.norm{i + 1}', c)
    keys += [('head.fc.weight', (num_classes, dims[-1])),
             ('head.fc.bias', (num_classes, ))]
    return keys


def random_state(keys, seed=0):
    """Random values that keep 4 stages of features finite and non-zero."""
    g = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in keys:
        if key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(1000, dtype=torch.long)
        elif key.endswith('running_var'):
            out[key] = 0.1 * torch.randn(shape, generator=g).abs() + 0.5
        else:
            out[key] = 0.1 * torch.randn(shape, generator=g)
    return out


def with_ema(state, seed=1):
    """``state`` with OpenMixup EMAHook buffers: one per parameter (not
    for BN statistics: ``full_params_ema=False``)."""
    g = torch.Generator().manual_seed(seed)
    out = OrderedDict(state)
    for key, value in state.items():
        stats = ('running_mean', 'running_var', 'num_batches_tracked')
        if key.endswith(stats):
            continue
        out['ema_' + key.replace('.', '_')] = \
            value + 0.01 * torch.randn(value.shape, generator=g)
    return out


def released(state):
    """As mmcv 1.x's EpochBasedRunner.save_checkpoint writes it."""
    meta = dict(
        env_info='sys.platform: linux\nPyTorch: 1.10.0',
        config="model = dict(type='MixUpClassification', ...)",
        seed=0,
        exp_name='moga_tiny_deit3_sz256_lr2e_3_8xb128_fp16_ep300.py',
        mmcv_version='1.4.7',
        time='Thu Dec  1 22:38:33 2022',
        epoch=300,
        iter=375300,
        fp16=dict(
            loss_scaler=dict(
                scale=65536.0,
                growth_factor=2.0,
                backoff_factor=0.5,
                growth_interval=2000,
                _growth_tracker=0)))
    return dict(
        meta=meta,
        state_dict=state,
        optimizer=dict(
            state={},
            param_groups=[
                dict(
                    lr=1e-6,
                    betas=(0.9, 0.999),
                    weight_decay=0.04,
                    eps=1e-8,
                    params=[0, 1])
            ]))


def official_path(state):
    """The same weights through the MogaNet repository's layout: backbone.
    stripped, head.fc -> head, then convert_moganet's official rules."""
    official = OrderedDict()
    for key, value in state.items():
        if key.startswith('backbone.'):
            official[key[len('backbone.'):]] = value
        elif key.startswith('head.fc.'):
            official['head.' + key[len('head.fc.'):]] = value
    return convert_moganet(official)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope='module')
def tstar(root):
    cfg = load_config(f'{root}/{CONFIG}')
    assert cfg.model.backbone.attn_force_fp32  # as OpenMixup evaluates it
    state = random_state(openmixup_keys())
    reference = build_classifier(cfg.model).eval()
    reference.load_state_dict(official_path(state), strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits = reference(x, mode='tensor')
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    assert logits.std() > 0
    return dict(cfg=cfg, state=state, x=x, logits=logits)


def build(tstar):
    return build_classifier(tstar['cfg'].model).eval()


def logits_of(model, tstar):
    with torch.no_grad():
        return model(tstar['x'], mode='tensor')


def run_tool(root, argv):
    script = f'{root}/tools/model_converters/moganet_to_mogazoo.py'
    with mock.patch.object(sys, 'argv', [script] + [str(a) for a in argv]):
        runpy.run_path(script, run_name='__main__')


# ------------------------------------------------------------------- tests


def test_openmixup_layout_loads_strictly_with_official_logits(tstar):
    state = tstar['state']
    converted = convert_moganet_openmixup({
        f'module.{k}': v
        for k, v in state.items()
    })
    # convert_moganet reads both layouts
    assert list(convert_moganet(state)) == list(converted)
    assert len(converted) == len(state)
    assert torch.equal(converted['head.fc.weight'], state['head.fc.weight'])
    assert all(f'backbone.norms.{i}.running_var' in converted
               for i in range(4))
    model = build(tstar)
    model.load_state_dict(converted, strict=True)
    expect = official_path(state)
    for key, value in model.state_dict().items():
        assert torch.equal(value, expect[key]), key
    assert torch.equal(logits_of(model, tstar), tstar['logits'])


def test_tool_converts_the_openmixup_file(tstar, root, tmp_path, capsys):
    src = tmp_path / 'moga_tiny_deit3_sz256_lr2e_3_8xb128_fp16_ep300.pth'
    torch.save(released(tstar['state']), src)
    dst = tmp_path / 'tstar.pth'
    run_tool(root, [src, dst])
    assert 'OpenMixup MogaNet classifier layout' in capsys.readouterr().out
    written = torch.load(dst, weights_only=True)
    assert written['meta']['converter'] == 'moganet_to_mogazoo'
    model = build(tstar)
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    assert torch.equal(logits_of(model, tstar), tstar['logits'])
    # the tool writes what the in-memory path gives
    with mock.patch('mogazoo.checkpoint.converters.official.print_log'):
        expect = convert_if_official(
            torch.load(src, weights_only=False), str(src))['state_dict']
    assert list(written['state_dict']) == list(expect)
    assert all(
        torch.equal(written['state_dict'][k], v) for k, v in expect.items())


def test_in_memory_load_and_get_model(tstar, root, tmp_path):
    path = str(tmp_path / 'moga_tiny_deit3_sz256_lr2e_3_8xb128_fp16_ep300.pth')
    torch.save(released(tstar['state']), path)
    with mock.patch('mogazoo.checkpoint.converters.official.print_log') as log:
        ckpt = _load_checkpoint(path, map_location='cpu')
    message = log.call_args[0][0]
    assert 'OpenMixup MogaNet classifier checkpoint, converted in memory' \
        in message
    assert f'moganet_to_mogazoo.py {path}' in message
    assert ckpt['meta']['converted_in_memory']
    assert ckpt['meta']['converter'] == 'moganet_to_mogazoo.py'
    model = build(tstar)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert torch.equal(logits_of(model, tstar), tstar['logits'])

    model = mogazoo.get_model(f'{root}/{CONFIG}', path)
    assert torch.equal(logits_of(model, tstar), tstar['logits'])


def test_pretrained_true_reads_the_openmixup_release(tstar, root, tmp_path,
                                                     monkeypatch):
    """get_model(name, pretrained=True): the metafile's OpenMixup URL,
    its file already in the cache (as put there by hand: no network),
    converted by mogazoo.checkpoint.hub.load_url -> convert_if_official."""
    from mogazoo.checkpoint import hub
    assert hub.model_index()[NAME]['weights'] == URL
    monkeypatch.setenv('MOGAZOO_HOME', str(tmp_path / 'home'))
    cached = hub.cache_path(URL)
    os.makedirs(os.path.dirname(cached))
    torch.save(released(tstar['state']), cached)
    model = mogazoo.get_model(NAME, pretrained=True)
    assert torch.equal(logits_of(model, tstar), tstar['logits'])
    assert os.path.isfile(hub.converted_path(cached))


def test_openmixup_ema_buffers(tstar, root, tmp_path):
    """EMAHook's ema_* buffers: dropped by default (the parameters are
    what OpenMixup's test loads), swapped in with --ema."""
    state = tstar['state']
    ema_state = with_ema(state)
    src = tmp_path / 'moga_ema.pth'
    torch.save(released(ema_state), src)
    plain = convert_moganet(ema_state)
    assert list(plain) == list(convert_moganet(state))
    assert all(
        torch.equal(plain[k], v) for k, v in convert_moganet(state).items())
    with mock.patch('mogazoo.checkpoint.converters.official.print_log') as log:
        ckpt = _load_checkpoint(str(src), map_location='cpu')
    assert 'ema_*, dropped: convert with --ema' in log.call_args[0][0]
    assert list(ckpt['state_dict']) == list(plain)

    swapped = select_state_dict(torch.load(src, weights_only=False), ema=True)
    assert not any(k.startswith('ema_') for k in swapped)
    assert torch.equal(swapped['head.fc.weight'],
                       ema_state['ema_head_fc_weight'])
    assert torch.equal(swapped['backbone.norm4.running_var'],
                       state['backbone.norm4.running_var'])
    dst = tmp_path / 'ema.pth'
    run_tool(root, [src, dst, '--ema'])
    written = torch.load(dst, weights_only=True)['state_dict']
    expect = convert_moganet(swapped)
    assert list(written) == list(expect)
    assert all(torch.equal(written[k], v) for k, v in expect.items())
    assert torch.equal(written['backbone.stages.0.0.layer_scale_1.scale'],
                       ema_state['ema_backbone_blocks1_0_layer_scale_1'])
    build(tstar).load_state_dict(written, strict=True)


def test_what_is_not_an_openmixup_classifier_is_refused(tstar, root, tmp_path):
    state = tstar['state']
    # AutoMix's mix block, a momentum encoder, another head's layers
    for extra in ('mix_block.query.conv.weight', 'backbone_k.norm4.weight',
                  'head.uncertain.weight', 'backbone.mask_token'):
        bad = OrderedDict(state)
        bad[extra] = torch.zeros(1)
        with pytest.raises(ValueError, match=rf"'{extra}'"):
            convert_moganet(bad)
    bad = OrderedDict(state)
    bad['mix_block.query.conv.weight'] = torch.zeros(1)
    path = tmp_path / 'automix.pth'
    torch.save(released(bad), path)
    with pytest.raises(
            RuntimeError,
            match=r"OpenMixup's MogaNet classifier "
            r'layout but cannot be converted .*mix_block.*'
            r'moganet_to_mogazoo\.py'):
        _load_checkpoint(str(path))
    with pytest.raises(SystemExit, match='mix_block'):
        run_tool(root, [path, tmp_path / 'x.pth'])
    assert not (tmp_path / 'x.pth').exists()
    # the det/seg converter still refuses a classifier, pointing here
    with pytest.raises(
            ValueError, match=r'classifier .*'
            r'moganet_to_mogazoo\.py'):
        convert_moganet_downstream(state)
    det_tool = f'{root}/tools/model_converters/moganet_det_to_mogazoo.py'
    src = tmp_path / 'tstar.pth'
    torch.save(released(state), src)
    argv = [det_tool, str(src), str(tmp_path / 'x.pth')]
    with mock.patch.object(sys, 'argv', argv):
        with pytest.raises(SystemExit, match='moganet_to_mogazoo.py'):
            runpy.run_path(det_tool, run_name='__main__')
    # a mogazoo checkpoint is left alone
    converted = {'state_dict': convert_moganet(state)}
    assert convert_if_official(converted) is converted
