"""Checkpoints of the official any-resolution FasterViT
(``faster_vit_any_res.py``) built at any input size.

The official model builds its carrier-token layers for the size it is
constructed at: a stage with hierarchical attention gets them when its padded
window grid is larger than 1x1, and the carrier-token position embedding
``hat_pos_embed`` only when that grid is square; the carrier-token
initializer is built in any case. ``FasterViT(any_res=True,
resolution=(H, W))`` builds the same layers, so the converted checkpoint
loads strictly and gives the official logits.

The official models' state dicts and logits (weights ``fill(official
key)``, input ``image(H, W)``) are recorded from the official code by
tests/data/make_golden.py (tests/official_records.py); tests/test_official.py
checks every recorded ``faster_vit_0_any_res`` layout against the converter
and the parameter counts.
"""
import pytest
import torch

from mogazoo.checkpoint.converters.fastervit import convert_fastervit
from mogazoo.checkpoint.fit import CheckpointMismatchError, check_fit
from mogazoo.models.backbones.fastervit import FasterViT
import official_records
from helpers import SMALL
from helpers import fastervit_classifier as classifier
from helpers import fastervit_official_key as official_key
from official_records import image, relative_error

# the official model with SMALL's settings, hierarchical attention in stages
# 3 and 4, built for 256x320: stage 3 is 16x20, a 2x3 grid of windows of 8
# (carrier tokens, no hat_pos_embed); stage 4 is 8x10, with windows of 5 a
# 2x2 grid (with hat_pos_embed), with windows of 10 a single window (only
# the carrier-token initializer)
CASES = {  # the recorded official model of each (tests/official_records.py)
    'nonsquare':
    dict(windows=[7, 7, 8, 5], record='fastervit_small_any_res_256x320_w8_5'),
    'single':
    dict(
        windows=[7, 7, 8, 10], record='fastervit_small_any_res_256x320_w8_10'),
}
RESOLUTION = (256, 320)


def small_arch(windows):
    return dict(SMALL, window_sizes=windows, hat=[False, False, True, True])


def official_key_shapes(model):
    """``model``'s parameters and running statistics by official name."""
    return {
        official_key(k): tuple(v.shape)
        for k, v in model.state_dict().items()
        if not k.endswith('.num_batches_tracked')
    }


@pytest.mark.parametrize('case', list(CASES))
def test_official_checkpoint_loads_strictly_with_official_logits(case):
    spec = CASES[case]
    model = classifier(
        arch=small_arch(spec['windows']), any_res=True,
        resolution=RESOLUTION).eval()
    # the layers are the official model's, no more, no fewer
    assert official_key_shapes(model) == official_records.key_shapes(
        spec['record'])
    stages = model.backbone.stages
    # hat_attn: the block has carrier-token layers
    assert all(
        blk.hat_pos_embed is None and hasattr(blk, 'hat_attn')
        for blk in stages[2].blocks)
    assert all((blk.hat_pos_embed is not None) == (case == 'nonsquare')
               and hasattr(blk, 'hat_attn') == (case == 'nonsquare')
               for blk in stages[3].blocks)
    assert stages[3].global_tokenizer is not None
    model.load_state_dict(
        convert_fastervit(
            official_records.official_state_dict(spec['record'])),
        strict=True)
    expect = official_records.logits(spec['record'])
    assert expect['input'] == [1, 3, *RESOLUTION]
    with torch.no_grad():
        logits = model(image(*RESOLUTION))
    err = relative_error(logits, expect['logits'])
    assert err <= 1e-5, (err, logits[0, :5].tolist())


def test_without_resolution_the_non_square_stage_has_extra_layers():
    # any_res=True alone builds hat_pos_embed everywhere (for the official
    # 224 checkpoints); check_fit names the cause for the official any-res
    # checkpoint
    windows = CASES['nonsquare']['windows']
    official = official_records.official_state_dict(
        CASES['nonsquare']['record'])
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
