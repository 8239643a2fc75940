"""Helpers that several test modules share (no test module imports
another): the downstream configs, the independent mogazoo -> official key
maps, the small FasterViT of the behaviour tests, and official-layout
checkpoint files.

The key maps are written by hand, independently of the converters (which
map the other way); tests/test_official.py checks them against the key sets
recorded from the official code (tests/official_records.py).
"""
import argparse
import glob
import os.path as osp
import re

import torch

import official_records

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The detection and segmentation configs: tests/test_downstream.py builds
#: and runs them, tests/test_configs.py the others.
DOWNSTREAM_CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', '*', 'det', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', '*', 'seg', '*.py')))

# ------------------------------------------------------------ key maps


def moganet_official_key(key):
    """mogazoo key -> official Westlake-AI/MogaNet key."""
    key = key.replace('backbone.', '', 1)
    if key.startswith('head.fc.'):
        return key.replace('head.fc.', 'head.')
    m = re.match(r'patch_embeds\.(\d)\.(\d)\.(.*)', key)
    if m:
        i, j, rest = int(m[1]), int(m[2]), m[3]
        if i == 0:
            return f'patch_embed1.projection.{j}.{rest}'
        part = 'projection' if j == 0 else 'norm'
        return f'patch_embed{i + 1}.{part}.{rest}'
    m = re.match(r'stages\.(\d)\.(.*)', key)
    if m:
        rest = m[2].replace('dw_conv', 'DW_conv').replace('pw_conv', 'PW_conv')
        rest = re.sub(r'layer_scale_(\d)\.scale$', r'layer_scale_\1', rest)
        return f'blocks{int(m[1]) + 1}.{rest}'
    m = re.match(r'norms\.(\d)\.(.*)', key)
    return f'norm{int(m[1]) + 1}.{m[2]}'


def fastervit_official_key(key):
    """mogazoo key -> key of the official NVlabs/FasterViT model."""
    if key.startswith('head.fc.'):
        return 'head.' + key[len('head.fc.'):]
    key = key[len('backbone.'):]
    m = re.match(r'patch_embeds\.(\d+)\.(\d+)\.(.*)', key)
    if m:
        i, j, rest = int(m[1]), int(m[2]), m[3]
        if i == 0:
            return f'patch_embed.conv_down.{j}.{rest}'
        part = 'norm' if j == 0 else 'reduction.0'
        return f'levels.{i - 1}.downsample.{part}.{rest}'
    m = re.match(r'stages\.(\d+)\.(.*)', key)
    if m:
        return f'levels.{m[1]}.{m[2]}'
    m = re.match(r'norms\.(\d+)\.(.*)', key)
    return f'norm.{m[2]}'


# ------------------------------------------------- the small FasterViT

# a small FasterViT for behaviour tests: carrier tokens in stages 3 and 4 at
# small inputs (windows of 2); tests/data/make_golden.py builds the official
# model with these settings (SMALL_FASTERVIT)
SMALL = dict(
    embed_dims=[16, 32, 64, 128],
    depths=[1, 1, 2, 2],
    num_heads=[2, 2, 4, 4],
    stem_channels=8,
    ct_size=2,
    layer_scale=1e-5,
    propagation=True)


def fastervit_classifier(num_classes=10, **backbone):
    """An ``ImageClassifier`` around ``FasterViT(**backbone)`` (arch '0' by
    default)."""
    from mmpretrain.models import build_classifier

    import mogazoo.models.backbones.fastervit  # noqa: F401 (registers)
    from mogazoo.models.backbones.fastervit import FasterViT
    backbone.setdefault('arch', '0')
    model = FasterViT(**backbone)
    return build_classifier(
        dict(
            type='ImageClassifier',
            backbone=dict(type='FasterViT', **backbone),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=model.embed_dims[-1])))


# ------------------------------------------- official checkpoint files

#: family: (the recorded official model the file holds, release layout)
OFFICIAL_FILES = {
    'MogaNet': ('moganet_xtiny', 'timm'),
    'FasterViT': ('faster_vit_0_224', 'bare'),
    'DGMN2': ('dgmn2_tiny', 'deit'),
}
CONVERTERS = {'MogaNet': 'moganet', 'FasterViT': 'fastervit', 'DGMN2': 'dgmn2'}


def build(config, **options):
    """The model of ``config`` (with ``options`` merged), initialized, in
    eval mode."""
    from mmpretrain.registry import MODELS

    from mogazoo.utils import load_config
    cfg = load_config(config, options)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def official_checkpoint(family, path):
    """Write an official checkpoint of the family's recorded model
    (``OFFICIAL_FILES``: MogaNet-XT, FasterViT-0, DGMN2-T) as the official
    repository releases it: the official state dict recorded from the
    official code (every key, derived buffers and FasterViT's second name
    of one conv included), weights ``official_records.fill``, training
    ``args`` as an ``argparse.Namespace`` and the family's layout (timm's
    state_dict + state_dict_ema with ``module.``, DeiT's ``model``, or a
    bare dict)."""
    name, layout = OFFICIAL_FILES[family]
    state = official_records.official_state_dict(name)
    args = argparse.Namespace(model=family.lower(), lr=1e-3, epochs=300)
    if layout == 'timm':
        ckpt = {
            'state_dict': {
                f'module.{k}': v
                for k, v in state.items()
            },
            'state_dict_ema': {
                k: v * 0
                for k, v in state.items()
            },
            'args': args,
            'epoch': 299
        }
    elif layout == 'deit':
        ckpt = {
            'model': state,
            'args': args,
            'epoch': 299,
            'optimizer': {
                'state': {}
            }
        }
    else:
        ckpt = state
    torch.save(ckpt, path)
    return str(path)


def convert_with_tool(family, src, dst):
    """What tools/model_converters/<family>_to_mogazoo.py SRC DST runs."""
    from mogazoo.checkpoint import converters
    name = CONVERTERS[family]
    converters.converter_main(
        f'{name}_to_mogazoo',
        getattr(converters, f'convert_{name}'),
        '',
        argv=[src, str(dst)])
    return str(dst)


def logits(model, size):
    """``model``'s output on a seeded ``(2, 3, size, size)`` batch."""
    torch.manual_seed(0)
    with torch.no_grad():
        return model(torch.randn(2, 3, size, size), mode='tensor')
