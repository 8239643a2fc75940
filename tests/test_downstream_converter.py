"""Official MogaNet detection / segmentation checkpoints (issue 14, part 3).

Westlake-AI/MogaNet releases RetinaNet, Mask R-CNN and Cascade Mask R-CNN
checkpoints trained with mmdet 2.x and Semantic FPN and UperNet ones trained
with mmseg 0.x. Here they are written as released (the official backbone's
names under ``backbone.``, the mmdet 2.x / mmseg 0.x neck and head names
listed below from those versions' sources, mmcv 1.x's ``meta`` and
``optimizer``), converted by the tools and in memory, and loaded strictly
into the models of ``configs/moganet/det`` and ``configs/moganet/seg``.
"""
import copy
import runpy
import sys
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

import mogazoo  # noqa: F401
from mogazoo.checkpoint.converters import (convert_moganet,
                                           convert_moganet_det,
                                           convert_moganet_downstream,
                                           convert_moganet_seg)
from mogazoo.checkpoint.converters.official import convert_if_official
from mogazoo.utils import load_config
from helpers import moganet_official_key as official_key

DET = 'configs/moganet/det/'
SEG = 'configs/moganet/seg/'
#: name: (task, config: the smallest arch that has one)
CONFIGS = {
    'retinanet': ('det', DET + 'retinanet_moganet-xtiny_fpn_1x_coco.py'),
    'mask-rcnn': ('det', DET + 'mask-rcnn_moganet-xtiny_fpn_1x_coco.py'),
    'cascade-mask-rcnn':
    ('det', DET + 'cascade-mask-rcnn_moganet-small_fpn_4conv1fc-giou_'
     'ms-crop-3x_coco.py'),
    'fpn': ('seg', SEG + 'fpn_moganet-xtiny_8xb4-80k_ade20k-512x512.py'),
    'upernet':
    ('seg', SEG + 'upernet_moganet-xtiny_8xb2-160k_ade20k-512x512.py'),
}

# ----------------------------------------- mmdet 2.x / mmseg 0.x key names
# Written from mmdet 2.x (necks/fpn.py, dense_heads/retina_head.py,
# rpn_head.py, roi_heads/{cascade_roi_head, bbox_heads/convfc_bbox_head,
# mask_heads/fcn_mask_head}.py) and mmseg 0.x (decode_heads/{uper_head,
# psp_head, fpn_head, fcn_head, decode_head}.py) with the official MogaNet
# configs' settings; not derived from the installed mmdet 3 / mmseg 1.


def conv(name, bias=True):
    return [f'{name}.weight'] + ([f'{name}.bias'] if bias else [])


def conv_module(name, norm=False):
    """mmcv's ConvModule: ``conv`` (no bias under a norm) and ``bn``
    (BN / SyncBN)."""
    keys = conv(f'{name}.conv', bias=not norm)
    if norm:
        keys += [
            f'{name}.bn.{p}' for p in ('weight', 'bias', 'running_mean',
                                       'running_var', 'num_batches_tracked')
        ]
    return keys


def fpn_neck(laterals, outs):
    return [k for i in range(laterals)
            for k in conv_module(f'neck.lateral_convs.{i}')] + \
        [k for i in range(outs) for k in conv_module(f'neck.fpn_convs.{i}')]


def rpn_head():
    return [
        k for n in ('rpn_conv', 'rpn_cls', 'rpn_reg')
        for k in conv(f'rpn_head.{n}')
    ]


def mask_head(prefix):
    return [k for i in range(4)
            for k in conv_module(f'{prefix}.convs.{i}')] + \
        conv(f'{prefix}.upsample') + conv(f'{prefix}.conv_logits')


def official_head_keys(name):
    if name == 'retinanet':  # FPN start_level=1, add_extra_convs='on_input'
        return fpn_neck(3, 5) + [
            k for branch in ('cls_convs', 'reg_convs') for i in range(4)
            for k in conv_module(f'bbox_head.{branch}.{i}')
        ] + conv('bbox_head.retina_cls') + conv('bbox_head.retina_reg')
    if name == 'mask-rcnn':  # Shared2FCBBoxHead, FCNMaskHead
        head = 'roi_head.bbox_head'
        return fpn_neck(4, 4) + rpn_head() + conv(f'{head}.shared_fcs.0') + \
            conv(f'{head}.shared_fcs.1') + conv(f'{head}.fc_cls') + \
            conv(f'{head}.fc_reg') + mask_head('roi_head.mask_head')
    if name == 'cascade-mask-rcnn':  # 3 stages of 4conv1fc (SyncBN) heads
        keys = fpn_neck(4, 4) + rpn_head()
        for s in range(3):
            head = f'roi_head.bbox_head.{s}'
            keys += [
                k for i in range(4)
                for k in conv_module(f'{head}.shared_convs.{i}', norm=True)
            ]
            keys += conv(f'{head}.shared_fcs.0') + conv(f'{head}.fc_cls') + \
                conv(f'{head}.fc_reg') + mask_head(f'roi_head.mask_head.{s}')
        return keys
    if name == 'fpn':  # FPNHead: log2(stride / 4) conv + upsample steps
        keys = fpn_neck(4, 4)
        for i in range(4):
            keys += [
                k for j in range(max(1, i)) for k in conv_module(
                    f'decode_head.scale_heads.{i}.{2 * j}', norm=True)
            ]
        return keys + conv('decode_head.conv_seg')
    assert name == 'upernet'  # UPerHead + FCNHead auxiliary head
    head = 'decode_head'
    keys = [
        k for i in range(4)
        for k in conv_module(f'{head}.psp_modules.{i}.1', norm=True)
    ]
    keys += conv_module(f'{head}.bottleneck', norm=True)
    for branch in ('lateral_convs', 'fpn_convs'):
        keys += [
            k for i in range(3)
            for k in conv_module(f'{head}.{branch}.{i}', norm=True)
        ]
    keys += conv_module(f'{head}.fpn_bottleneck', norm=True)
    keys += conv(f'{head}.conv_seg')
    return keys + conv_module('auxiliary_head.convs.0', norm=True) + \
        conv('auxiliary_head.conv_seg')


# -------------------------------------------------------------- fixtures


def build(root, name):
    task, config = CONFIGS[name]
    cfg = load_config(f'{root}/{config}')
    init_default_scope(cfg.default_scope)
    # no init_weights: the config's ImageNet file is not needed here
    return revert_sync_batchnorm(MODELS.build(cfg.model)).eval()


def official_state_dict(model, name, seed=0):
    """The state dict of the official model matching ``model``: backbone
    keys as the official ``MogaNet_feat`` names them (the classifier's,
    under ``backbone.``; mapped by tests/helpers.py, independently of the
    converter, and checked against the keys recorded from the official code
    by tests/test_official.py), neck and head keys as mmdet 2.x / mmseg 0.x
    name them; all with random values."""
    g = torch.Generator().manual_seed(seed)
    model_state = model.state_dict()
    names = [
        'backbone.' + official_key(k) for k in model_state
        if k.startswith('backbone.')
    ]
    names += official_head_keys(name)
    shapes = {
        ('backbone.' + official_key(k) if k.startswith('backbone.') else k): v
        for k, v in model_state.items()
    }
    out = {}
    for key in names:
        template = shapes[key]
        if template.is_floating_point():
            # small: the features of 4 random stages stay finite
            value = 0.1 * torch.randn(template.shape, generator=g)
            value = value.abs() + 0.5 if key.endswith('running_var') else value
        else:
            value = torch.full_like(template, 7)
        out[key] = value
    return out


def released(state, task):
    """As mmcv 1.x's save_checkpoint writes it: meta (the mmseg 0.x best
    mIoU is a numpy scalar), state_dict, optimizer."""
    meta = dict(
        mmcv_version='1.7.0',
        config='model = dict(...)',
        epoch=12,
        iter=88000,
        CLASSES=('person', 'bicycle'))
    if task == 'seg':
        meta.update(
            mmseg_version='0.29.1',
            PALETTE=[[120, 120, 120]],
            hook_msgs=dict(
                best_score=np.float64(0.4321),
                best_ckpt='best_mIoU_iter_80000.pth'))
    else:
        meta.update(
            mmdet_version='2.26.0',
            hook_msgs=dict(best_score=0.397, last_ckpt='epoch_12.pth'))
    return dict(
        meta=meta,
        state_dict=state,
        optimizer=dict(
            state={},
            param_groups=[
                dict(
                    lr=1e-4,
                    betas=(0.9, 0.999),
                    weight_decay=0.05,
                    params=[0, 1])
            ]))


@pytest.fixture(scope='module')
def official(root, tmp_path_factory):
    """name -> (model, official state dict); files for the cheap ones."""
    out = {}
    for name in CONFIGS:
        model = build(root, name)
        out[name] = (model, official_state_dict(model, name))
    tmp = tmp_path_factory.mktemp('official_downstream')
    files = {}
    for name in ('retinanet', 'fpn'):
        files[name] = str(tmp / f'{name}_moganet_xtiny_official.pth')
        torch.save(released(out[name][1], CONFIGS[name][0]), files[name])
    out['files'] = files
    return out


def assert_same_weights(state, official_state):
    """Every tensor of a mogazoo state dict equals its official source."""
    for key, value in state.items():
        source = 'backbone.' + official_key(key) \
            if key.startswith('backbone.') else key
        assert torch.equal(value, official_state[source]), key


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize('name', list(CONFIGS))
def test_official_checkpoint_fits_config_strictly(name, official):
    model, state = official[name]
    task = CONFIGS[name][0]
    # nothing of the neck and heads was renamed by mmdet 3 / mmseg 1
    heads = {k for k in model.state_dict() if not k.startswith('backbone.')}
    assert heads == set(official_head_keys(name))
    converted = (convert_moganet_det
                 if task == 'det' else convert_moganet_seg)({
                     f'module.{k}': v
                     for k, v in state.items()
                 })
    assert list(converted) == list(convert_moganet_downstream(state))
    model = copy.deepcopy(model)
    model.load_state_dict(converted, strict=True)
    assert_same_weights(model.state_dict(), state)
    # the four output norms of out_indices=(0, 1, 2, 3): official norm{i}
    assert all(f'backbone.norms.{i}.weight' in converted for i in range(4))


@pytest.mark.parametrize('name', ['retinanet', 'upernet'])
def test_backbone_features_equal_classifier_converter_path(
        name, official, root):
    """The converted detector's / segmentor's backbone gives the features
    of mogazoo's MogaNet loaded through the ImageNet converter with the
    same official backbone weights (the official det/seg backbone is the
    classifier with fork_feat=True, its head an nn.Identity)."""
    model, state = official[name]
    model = copy.deepcopy(model)
    model.load_state_dict(convert_moganet_downstream(state), strict=True)
    backbone = {
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    }
    init_default_scope('mmpretrain')
    ref = MODELS.build(
        dict(
            type='mmpretrain.MogaNet', arch='xtiny',
            out_indices=(0, 1, 2, 3))).eval()
    ref.load_state_dict(
        {
            k[len('backbone.'):]: v
            for k, v in convert_moganet(backbone).items()
        },
        strict=True)
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got, want = model.backbone(x), ref(x)
    assert [f.shape[1] for f in got] == [32, 64, 96, 192]
    assert len(got) == len(want) == 4
    for a, b in zip(got, want):
        assert torch.isfinite(a).all() and a.abs().max() > 0
        assert torch.equal(a, b)


@pytest.mark.parametrize('name', ['retinanet', 'fpn'])
def test_load_from_official_file_converts_in_memory(name, official, root):
    """load_from / load_checkpoint / init_cfg Pretrained given the official
    file itself: converted in memory as the tool would, with one log line."""
    path = official['files'][name]
    _, state = official[name]
    task = CONFIGS[name][0]
    with mock.patch('mogazoo.checkpoint.converters.official.print_log') as log:
        ckpt = _load_checkpoint(path, map_location='cpu')
    message = log.call_args[0][0]
    what = dict(det='detection', seg='segmentation')[task]
    assert f'official MogaNet {what} checkpoint, converted in memory' \
        in message
    assert f'moganet_{task}_to_mogazoo.py {path}' in message
    assert ckpt['meta']['converted_in_memory']
    expect = convert_moganet_downstream(state)
    assert list(ckpt['state_dict']) == list(expect)
    assert all(
        torch.equal(ckpt['state_dict'][k], v) for k, v in expect.items())

    model = build(root, name)  # fresh weights
    load_checkpoint(model, path, map_location='cpu', strict=True)
    assert_same_weights(model.state_dict(), state)

    # the backbone alone, as a detector's backbone init_cfg would load it
    init_default_scope('mmpretrain')
    backbone = MODELS.build(
        dict(
            type='mmpretrain.MogaNet',
            arch='xtiny',
            out_indices=(0, 1, 2, 3),
            init_cfg=dict(
                type='Pretrained', checkpoint=path, prefix='backbone.')))
    backbone.init_weights()
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, expect[f'backbone.{key}']), key


def test_converter_tools(official, root, tmp_path):
    """The two tools (run as scripts, in this process) write what the
    in-memory path gives; each refuses the other task's checkpoint."""
    det, seg = official['files']['retinanet'], official['files']['fpn']
    for task, src in (('det', det), ('seg', seg)):
        dst = tmp_path / f'{task}.pth'
        runpy_tool(root, task, [src, str(dst)])
        written = torch.load(dst, weights_only=True)
        assert written['meta']['converter'] == f'moganet_{task}_to_mogazoo'
        expect = convert_if_official(torch.load(src, weights_only=False),
                                     src)['state_dict']
        assert list(written['state_dict']) == list(expect)
        assert all(
            torch.equal(written['state_dict'][k], v)
            for k, v in expect.items())
    with pytest.raises(
            SystemExit,
            match=r'official segmentation .* not a '
            r'detection .*; use moganet_seg_to_mogazoo\.py'):
        runpy_tool(root, 'det', [seg, str(tmp_path / 'x.pth')])
    with pytest.raises(
            SystemExit,
            match=r'official detection .* not a '
            r'segmentation .*; use moganet_det_to_mogazoo\.py'):
        runpy_tool(root, 'seg', [det, str(tmp_path / 'x.pth')])
    assert not (tmp_path / 'x.pth').exists()


def runpy_tool(root, task, argv):
    script = f'{root}/tools/model_converters/moganet_{task}_to_mogazoo.py'
    with mock.patch.object(sys, 'argv', [script] + argv):
        runpy.run_path(script, run_name='__main__')


def test_not_official_downstream_is_refused(official):
    _, state = official['retinanet']
    _, seg_state = official['fpn']
    with pytest.raises(ValueError, match='both detection and segmentation'):
        convert_moganet_downstream({**state, **seg_state})
    with pytest.raises(
            ValueError,
            match=r"neither the MogaNet backbone nor "
            r"a detection .*'ema_backbone_x'"):
        convert_moganet_det({**state, 'ema_backbone_x': torch.zeros(1)})
    with pytest.raises(ValueError, match=r"'backbone\.head\.weight'"):
        convert_moganet_det({**state, 'backbone.head.weight': torch.zeros(1)})
    converted = convert_moganet_det(state)
    with pytest.raises(ValueError, match="already in mogazoo's layout"):
        convert_moganet_det(converted)
    classifier = {
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    }
    with pytest.raises(ValueError, match='No official MogaNet backbone'):
        convert_moganet_seg(classifier)
    # a backbone-only (extracted) state dict converts without a task
    backbone = {k: v for k, v in state.items() if k.startswith('backbone.')}
    assert set(convert_moganet_downstream(backbone)) == {
        k
        for k in converted if k.startswith('backbone.')
    }


def test_numpy1_pickled_meta_loads(official, tmp_path):
    """mmseg 0.x keeps its best mIoU as a numpy scalar in meta.hook_msgs,
    and files written under numpy 1.x name it numpy.core.multiarray.scalar
    (numpy 2: numpy._core): such a file loads without --trust-file."""
    import zipfile
    src = official['files']['fpn']
    path = tmp_path / 'numpy1.pth'
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, 'w') as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith('data.pkl'):
                assert b'numpy._core' in data
                data = data.replace(b'numpy._core', b'numpy.core')
            zout.writestr(info, data)
    with mock.patch('mogazoo.checkpoint.converters.official.print_log'):
        ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert 'backbone.stages.0.0.attn.value.dw_conv0.weight' in \
        ckpt['state_dict']


def test_openmmlab_layout_classifier_is_not_taken_for_a_detector(
        official, tmp_path):
    """backbone.blocks1.* with head.fc.* (an OpenMixup classifier) is
    refused by the det/seg converters with an error that says so, not
    half-converted; loaded, it is converted as the classifier it is
    (tests/test_openmixup_converter.py)."""
    _, state = official['retinanet']
    classifier = {k: v for k, v in state.items() if k.startswith('backbone.')}
    classifier['head.fc.weight'] = torch.zeros(1000, 192)
    with pytest.raises(
            ValueError, match=r'classifier.*'
            r'moganet_to_mogazoo\.py'):
        convert_moganet_downstream(classifier)
    with pytest.raises(ValueError, match='classifier'):
        convert_moganet_det(classifier)
    path = tmp_path / 'openmixup.pth'
    torch.save(dict(state_dict=classifier, meta={}), path)
    with mock.patch('mogazoo.checkpoint.converters.official.print_log'):
        ckpt = _load_checkpoint(str(path))
    assert ckpt['meta']['converter'] == 'moganet_to_mogazoo.py'
    assert set(ckpt['state_dict']) == set(
        convert_moganet_downstream({
            k: v
            for k, v in classifier.items() if k.startswith('backbone.')
        })) | {'head.fc.weight'}
