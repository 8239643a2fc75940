"""Checkpoints of the official any-resolution FasterViT
(``faster_vit_any_res.py``) built at any input size.

The official model builds its carrier-token layers for the size it is
constructed at: a stage with hierarchical attention gets them when its padded
window grid is larger than 1x1, and the carrier-token position embedding
``hat_pos_embed`` only when that grid is square; the carrier-token
initializer is built in any case. ``FasterViT(any_res=True,
resolution=(H, W))`` builds the same layers, so the converted checkpoint
loads strictly and gives the official logits.

The numbers below were computed with the official code (fastervit==1.0.0)
the way ``GOLDEN`` of tests/test_fastervit.py was: weights
``fill(official key)`` (the tokenizer conv's second name
``to_global_feature.pos`` holding the same tensor), input ``image(H, W)``,
and the official state dict's ``key:shape`` lines, sorted and joined by
newlines, without the derived buffers and the second conv name, as
``(count, crc32)``.
"""
import re
import zlib

import pytest
import torch
from test_fastervit import SMALL, classifier, fill, image, official_key

from mogazoo.converters.fastervit import convert_fastervit
from mogazoo.models.backbones.fastervit import FasterViT
from mogazoo.utils.checkpoint_fit import CheckpointMismatchError, check_fit

_DERIVED = re.compile(
    r'\.(relative_bias|relative_coords_table|relative_position_index)$')
_SECOND_NAME = re.compile(r'\.to_global_feature\.pos\.')

# the official model with SMALL's settings, hierarchical attention in stages
# 3 and 4, built for 256x320: stage 3 is 16x20, a 2x3 grid of windows of 8
# (carrier tokens, no hat_pos_embed); stage 4 is 8x10, with windows of 5 a
# 2x2 grid (with hat_pos_embed), with windows of 10 a single window (only
# the carrier-token initializer)
CASES = {
    'nonsquare':
    dict(
        windows=[7, 7, 8, 5],
        keys=(214, 2615178826),
        logits=[
            -0.7820608, 0.857658, 0.7683391, -0.969339, -0.7592658, 0.9022579,
            0.5062662, -1.011297, -0.3059808, 1.201088
        ]),
    'single':
    dict(
        windows=[7, 7, 8, 10],
        keys=(174, 368041059),
        logits=[
            -0.5743377, 0.3869329, 0.6214002, -0.4796398, -0.6755611, 0.40175,
            0.4871916, -0.5083256, -0.3518542, 0.7040413
        ]),
}
RESOLUTION = (256, 320)

# official faster_vit_0_any_res(resolution=..., window_size=..., ct_size=2):
# state dict fingerprint and parameter count (1000 classes)
FASTERVIT_0 = {
    ((256, 320), (7, 7, 8, 4)): ((388, 1722928028), 30609192),
    ((576, 960), (7, 7, 7, 7)): ((388, 1722928028), 30609192),
    ((576, 960), (7, 7, 12, 6)): ((388, 1722928028), 30609192),
    ((224, 224), (7, 7, 7, 7)): ((406, 216518911), 31404840),
}


def fingerprint(official):
    lines = sorted(f'{k}:{tuple(v.shape)}' for k, v in official.items()
                   if not _DERIVED.search(k) and not _SECOND_NAME.search(k))
    return len(lines), zlib.crc32('\n'.join(lines).encode())


def small_arch(windows):
    return dict(SMALL, window_sizes=windows, hat=[False, False, True, True])


def official_weights(model):
    """The official checkpoint of ``model``'s structure, ``fill`` weights."""
    return {
        official_key(k):
        fill(official_key(k), tuple(v.shape))
        if v.is_floating_point() else v.clone()
        for k, v in model.state_dict().items()
    }


@pytest.mark.parametrize('case', list(CASES))
def test_official_checkpoint_loads_strictly_with_official_logits(case):
    spec = CASES[case]
    model = classifier(
        arch=small_arch(spec['windows']), any_res=True,
        resolution=RESOLUTION).eval()
    official = official_weights(model)
    # the layers are the official model's, no more, no fewer
    assert fingerprint(official) == spec['keys']
    stages = model.backbone.stages
    # hat_attn: the block has carrier-token layers
    assert all(
        blk.hat_pos_embed is None and hasattr(blk, 'hat_attn')
        for blk in stages[2].blocks)
    assert all((blk.hat_pos_embed is not None) == (case == 'nonsquare')
               and hasattr(blk, 'hat_attn') == (case == 'nonsquare')
               for blk in stages[3].blocks)
    assert stages[3].global_tokenizer is not None
    model.load_state_dict(convert_fastervit(official), strict=True)
    with torch.no_grad():
        logits = model(image(*RESOLUTION))[0]
    expect = torch.tensor(spec['logits'])
    err = ((logits - expect).abs().max() / expect.abs().max()).item()
    assert err <= 1e-4, (err, logits.tolist())


def test_without_resolution_the_non_square_stage_has_extra_layers():
    # any_res=True alone builds hat_pos_embed everywhere (for the official
    # 224 checkpoints); check_fit names the cause for the official any-res
    # checkpoint
    windows = CASES['nonsquare']['windows']
    official = official_weights(
        classifier(
            arch=small_arch(windows), any_res=True, resolution=RESOLUTION))
    model = classifier(arch=small_arch(windows), any_res=True)
    missing = model.load_state_dict(
        convert_fastervit(official), strict=False).missing_keys
    assert {k.rsplit('.', 3)[0]
            for k in missing} == {
                f'backbone.stages.2.blocks.{i}.hat_pos_embed'
                for i in (0, 1)
            }
    with pytest.raises(
            CheckpointMismatchError, match='model.backbone.resolution'):
        check_fit(model.state_dict(), convert_fastervit(official), 'strict',
                  'official.pth', 'the model')


@pytest.mark.parametrize('size', list(FASTERVIT_0))
def test_faster_vit_0_any_res_keys(size):
    resolution, windows = size
    keys, params = FASTERVIT_0[size]
    with torch.device('meta'):
        model = classifier(
            num_classes=1000,
            arch='0',
            any_res=True,
            resolution=resolution,
            window_sizes=windows)
    official = {official_key(k): v for k, v in model.state_dict().items()}
    assert fingerprint(official) == keys
    assert sum(p.numel() for p in model.parameters()) == params
    converted = convert_fastervit(official)
    assert {
        k: tuple(v.shape)
        for k, v in converted.items()
    } == {
        k: tuple(v.shape)
        for k, v in model.state_dict().items()
    }


def test_official_224_structure_in_every_form():
    with torch.device('meta'):
        keys = FasterViT('0').state_dict().keys()
        assert FasterViT('0', any_res=True).state_dict().keys() == keys
        assert FasterViT(
            '0', any_res=True, resolution=224).state_dict().keys() == keys


def test_built_for_one_size_runs_at_others():
    # layers missing at the built size stay off at other sizes: stage 4 of
    # 'single' has no carrier-token layers, stage 3 no hat_pos_embed
    torch.manual_seed(0)
    model = FasterViT(
        small_arch(CASES['single']['windows']),
        any_res=True,
        resolution=RESOLUTION,
        out_indices=(2, 3)).eval()
    calls = []
    model.stages[3].global_tokenizer.register_forward_hook(
        lambda *args: calls.append(1))
    for h, w in [(512, 640), (224, 224), (96, 160)]:
        with torch.no_grad():
            outs = model(torch.randn(1, 3, h, w))
        assert all(torch.isfinite(o).all() for o in outs)
    assert not calls
