"""Fine-tuning from a converted checkpoint with frozen stages, through
mmengine's Runner, on a digits subset."""
import pytest
import torch
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS

import mogazoo  # noqa: F401
from mogazoo.utils import load_config
from runner_utils import tiny_cfg, train

HEAD_CFG = 'configs/custom/moganet-xtiny_ft-head_image-folder.py'
FREEZE2_CFG = 'configs/custom/moganet-xtiny_ft-freeze2_image-folder.py'


@pytest.fixture(scope='module')
def converted(root, tmp_path_factory):
    """A stand-in for a converted official MogaNet-XT checkpoint: a random
    1000-class classifier whose every float tensor (BatchNorm statistics
    too) is moved away from its initial value, saved as mmengine does."""
    torch.manual_seed(123)
    cfg = load_config(f'{root}/{HEAD_CFG}').model
    cfg.backbone.update(frozen_stages=-1, init_cfg=None)
    cfg.head.num_classes = 1000
    model = MODELS.build(cfg)
    model.init_weights()
    state = {}
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            v = v + 0.05 * torch.randn_like(v)
            v = v.abs() if k.endswith('running_var') else v
        state[k] = v
    path = str(tmp_path_factory.mktemp('ckpt') / 'moganet-xtiny_in1k.pth')
    save_checkpoint({'meta': {'converter': 'test'}, 'state_dict': state}, path)
    return path, state


def assert_equal(state, ref, keys):
    bad = [k for k in keys if not torch.equal(state[k], ref[k])]
    assert not bad, f'{len(bad)} tensors differ, e.g. {bad[:3]}'


def finetune(config, data_root, work_dir, options, ref):
    """Train ``config`` briefly; check that the whole backbone held the
    checkpoint's weights when training began and that the 10-class head was
    not loaded from the 1000-class checkpoint but trained. Returns the
    runner, its record, its log and the backbone's keys."""
    runner, rec, log = train(tiny_cfg(config, data_root, work_dir, options))
    keys = [k for k in ref if k.startswith('backbone.')]
    assert_equal(rec.before, ref, keys)
    assert ref['head.fc.weight'].shape == (1000, 192)
    assert rec.before['head.fc.weight'].shape == (10, 192)
    assert not torch.equal(rec.before['head.fc.weight'],
                           rec.after['head.fc.weight'])
    return runner, rec, log, keys


def test_head_only_keeps_the_backbone_bit_identical(root, digits_subset,
                                                    converted, tmp_path):
    ckpt, ref = converted
    runner, rec, log, keys = finetune(
        f'{root}/{HEAD_CFG}', digits_subset, tmp_path,
        {'model.backbone.init_cfg.checkpoint': ckpt}, ref)
    # not changed at all: weights and BatchNorm statistics
    assert_equal(rec.after, ref, keys)
    assert not any(p.requires_grad for p in runner.model.backbone.parameters())
    assert f'MogaNet: 703 of 703 tensors loaded from {ckpt}' in log


def test_freeze_first_two_stages_with_load_from(root, digits_subset, converted,
                                                tmp_path):
    ckpt, ref = converted
    _, rec, log, keys = finetune(f'{root}/{FREEZE2_CFG}', digits_subset,
                                 tmp_path, {'load_from': ckpt}, ref)
    # backbone.{patch_embeds,stages,norms}.<stage>.*
    frozen = [k for k in keys if k.split('.')[2] in ('0', '1')]
    trained = [
        k for k in keys
        if k.split('.')[2] in ('2', '3') and 'num_batches' not in k
    ]
    assert len(frozen) > 50 and len(trained) > 100
    assert_equal(rec.after, ref, frozen)
    changed = [k for k in trained if not torch.equal(rec.after[k], ref[k])]
    assert len(changed) > 0.9 * len(trained)
    # the 1000-class head does not fit 10 classes: skipped with a message
    assert ('are not loaded (they keep their fresh initialisation): '
            'head.fc.weight (1000, 192) -> (10, 192)') in log


def test_num_classes_mismatch_stops_before_training(root, digits_subset,
                                                    converted, tmp_path):
    ckpt, _ = converted
    cfg = tiny_cfg(f'{root}/{HEAD_CFG}', digits_subset, tmp_path, {
        'model.backbone.init_cfg.checkpoint': ckpt,
        'model.head.num_classes': 7
    })
    with pytest.raises(
            ValueError,
            match=r'has 10 classes .* set '
            r'model.head.num_classes=10'):
        train(cfg)
