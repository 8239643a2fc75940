"""The MogaNet 256x256 and T* recipes, and the layer-wise lr decay
fine-tuning configs of the three families."""
import math

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS

import mogazoo  # noqa: F401
from mogazoo.utils import load_config
from runner_utils import tiny_cfg, train

MOGA = 'configs/moganet/moganet-{}.py'
XT256 = MOGA.format('xtiny_8xb128_in1k-256px')
T256 = MOGA.format('tiny_8xb128_in1k-256px')
TSTAR = MOGA.format('tiny_8xb128-3aug_in1k-256px')


def pipeline_types(loader):
    return [t.type for t in loader.dataset.pipeline]


@pytest.mark.parametrize('path,arch,wd,dp', [(XT256, 'xtiny', 0.03, 0.05),
                                             (T256, 'tiny', 0.04, 0.1)])
def test_moganet_256_is_the_224_recipe_on_256_crops(root, path, arch, wd, dp):
    cfg = load_config(f'{root}/{path}')
    ref = load_config(f'{root}/{MOGA.format(arch + "_8xb128_in1k")}')
    assert cfg.model == ref.model
    assert cfg.optim_wrapper == ref.optim_wrapper
    assert cfg.param_scheduler == ref.param_scheduler
    assert cfg.model.backbone.drop_path_rate == dp
    assert cfg.optim_wrapper.optimizer.weight_decay == wd
    train_p, ref_p = (c.train_dataloader.dataset.pipeline for c in (cfg, ref))
    # the same training pipeline but for the crop size
    assert train_p[1].type == 'RandomResizedCrop' and train_p[1].scale == 256
    assert train_p[:1] + train_p[2:] == ref_p[:1] + ref_p[2:]
    assert train_p[3].type == 'RandAugment' and \
        train_p[3].magnitude_level == 7
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        _, resize, crop, _ = loader.dataset.pipeline
        # crop_pct 0.9: floor(256 / 0.9)
        assert resize.scale == math.floor(256 / 0.9) == 284
        assert crop.crop_size == 256


def official_lr(i, total, warmup, base=2e-3, min_lr=1e-6, ratio=1e-6):
    """mmcv's CosineAnnealing(by_epoch=False) with a linear warm-up, as
    OpenMixup's T* config runs it."""
    lr = min_lr + (base - min_lr) * 0.5 * (1 + math.cos(math.pi * i / total))
    if i < warmup:
        lr *= 1 - (1 - i / warmup) * (1 - ratio)
    return lr


def test_moganet_tiny_star_follows_openmixup(root):
    cfg = load_config(f'{root}/{TSTAR}')
    assert cfg.model.backbone.arch == 'tiny'
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.backbone.attn_force_fp32
    assert [(a.type, a.alpha)
            for a in cfg.model.train_cfg.augments] == [('Mixup', 0.1),
                                                       ('CutMix', 1.0)]
    assert cfg.model.head.loss.type == 'LabelSmoothLoss'
    assert pipeline_types(cfg.train_dataloader) == [
        'LoadImageFromFileSafe', 'RandomResizedCrop', 'RandomFlip',
        'ThreeAugment', 'ColorJitter', 'PackInputs'
    ]
    assert cfg.train_dataloader.dataset.pipeline[1].scale == 256
    assert cfg.train_dataloader.dataset.pipeline[4].brightness == 0.3
    assert cfg.test_dataloader.dataset.pipeline[1].scale == 284
    assert cfg.train_dataloader.batch_size * 8 == \
        cfg.auto_scale_lr.base_batch_size == 1024
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper'
    assert (opt.optimizer.lr, opt.optimizer.weight_decay) == (2e-3, 0.04)
    hooks = [h.type for h in cfg.custom_hooks]
    assert hooks == ['ThroughputHook', 'PreciseBNHook']
    assert cfg.custom_hooks[1].num_samples == 8192
    assert cfg.train_cfg.max_epochs == 300

    # weight decay as OpenMixup's paramwise_options give it
    model = MODELS.build(cfg.model)
    opt = dict(opt, type='OptimWrapper')  # AMP needs CUDA
    opt.pop('loss_scale')
    wrapper = build_optim_wrapper(model, opt)
    decay = {
        id(g['params'][0]): g['weight_decay']
        for g in wrapper.optimizer.param_groups
    }
    for name, param in model.named_parameters():
        no_decay = (
            name.endswith(('.bias', '.scale')) or '.norm' in name
            or name.startswith(
                ('backbone.patch_embeds.1.1', 'backbone.patch_embeds.2.1',
                 'backbone.patch_embeds.3.1')))
        assert decay[id(param)] == (0 if no_decay else 0.04), name
    assert decay[id(
        dict(model.named_parameters())
        ['backbone.patch_embeds.0.1.weight'])] == 0.04  # stem BN

    # the schedule: within 0.1 % of OpenMixup's (the gap is about 1 / the
    # warm-up iterations; 5e-5 at ImageNet's 1251 iterations an epoch)
    from mmengine.registry import PARAM_SCHEDULERS
    epoch_len = 100
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))],
                                  lr=2e-3)
    scheds = []
    for sched in cfg.param_scheduler:
        sched = dict(sched)
        assert sched.pop('convert_to_iter_based')
        cls = PARAM_SCHEDULERS.get(sched.pop('type'))
        scheds.append(
            cls.build_iter_from_epoch(
                optimizer, epoch_length=epoch_len, **sched))
    for i in range(300 * epoch_len):
        lr = optimizer.param_groups[0]['lr']
        ref = official_lr(i, 300 * epoch_len, 20 * epoch_len)
        assert abs(lr - ref) <= 1e-3 * ref, (i, lr, ref)
        for s in scheds:
            s.step()


def test_moganet_tiny_star_trains(root, digits_subset, tmp_path):
    """Two iterations of the T* recipe on 32 digits (a tiny arch, fp32 on a
    CPU): 3-Augment and colour jitter on 32x32 crops, the decay rules of
    the recipe, the warm-up, and Precise BN after the epoch."""
    recipe = load_config(f'{root}/{TSTAR}').train_dataloader.dataset.pipeline
    cfg = tiny_cfg(f'{root}/{TSTAR}', digits_subset, tmp_path)
    pipeline = cfg.train_dataloader.dataset.pipeline  # load, 32x32 crop, pack
    cfg.train_dataloader.dataset.update(
        type='ImageFolderDataset',
        split='train',
        pipeline=pipeline[:2] + recipe[2:5] + pipeline[2:])
    cfg.model.backbone.update(TINY['MogaNet'])
    cfg.model.head.update(in_channels=32, num_classes=10)
    cfg.data_preprocessor.num_classes = 10
    cfg.optim_wrapper.type = 'OptimWrapper'  # AMP needs CUDA
    cfg.optim_wrapper.pop('loss_scale')
    runner, rec, log = train(cfg, fn=lambda r: r.optim_wrapper.get_lr())
    assert runner.iter == 2
    assert 'ThreeAugment' in log and 'Finish Precise BN' in log
    # iteration 1 at 2e-3 x 1e-6 (the log), then the warm-up climbs
    assert 'lr: 2.0000e-09' in log
    lrs = [lr['lr'][0] for lr in rec.per_iter]  # after each iteration
    assert lrs[1] > lrs[0] > 2e-9
    assert all(
        torch.isfinite(v).all() for v in rec.after.values()
        if v.is_floating_point())


# --------------------------------------------------------------------------
# layer-wise lr decay
LAYER_DECAY = {  # config: (layers of the config's arch, decay rate)
    'configs/custom/moganet-xtiny_ft-layer-decay_image-folder.py': (20, 0.9),
    'configs/custom/fastervit-0_ft-layer-decay_image-folder.py': (18, 0.9),
    'configs/custom/dgmn2-tiny_ft-layer-decay_image-folder.py': (10, 0.8),
}
# small archs of the three families, for runs on a CPU at 32x32
TINY = {
    'MogaNet':
    dict(arch=dict(embed_dims=[16, 32], depths=[1, 2], ffn_ratios=[2, 2])),
    'FasterViT':
    dict(
        any_res=True,
        arch=dict(
            embed_dims=[16, 32, 64, 128],
            depths=[1, 1, 2, 2],
            num_heads=[2, 2, 4, 4],
            window_sizes=[7, 7, 2, 2],
            hat=[False, False, True, True],
            stem_channels=8)),
    'DGMN2':
    dict(
        img_size=32,
        arch=dict(
            embed_dims=[16, 32],
            depths=[1, 2],
            num_heads=[1, 2],
            mlp_ratios=[2, 2])),
}


def group_lrs(model, optim_cfg):
    """``{param name: (lr, layer id)}`` of the optimizer built from
    ``optim_cfg`` for ``model``."""
    wrapper = build_optim_wrapper(model, optim_cfg)
    groups = wrapper.optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for g in groups:
        [p] = g['params']
        assert names[id(p)] not in out
        out[names[id(p)]] = (g['lr'], g['layer_id'])
    return out


@pytest.mark.parametrize('path', sorted(LAYER_DECAY))
def test_layer_decay_lrs_decrease_from_head_to_stem(root, path):
    """The configs' own archs: every trainable parameter gets
    lr * rate ** (layers - 1 - depth), the head the full lr, the stem the
    least, and a deeper layer never less than a shallower one."""
    num_layers, rate = LAYER_DECAY[path]
    cfg = load_config(f'{root}/{path}')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert cfg.optim_wrapper.constructor == \
        'LearningRateDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == rate
    base = cfg.optim_wrapper.optimizer.lr
    lrs = group_lrs(model, cfg.optim_wrapper)
    assert set(lrs) == {
        n
        for n, p in model.named_parameters() if p.requires_grad
    }
    for name, (lr, layer) in lrs.items():
        assert 0 <= layer < num_layers, name
        assert lr == pytest.approx(base * rate**(num_layers - 1 - layer))
    head = [lr for n, (lr, _) in lrs.items() if n.startswith('head.')]
    stem = [
        lr for n, (lr, _) in lrs.items()
        if n.startswith('backbone.patch_embeds.0.')
    ]
    assert head and all(lr == pytest.approx(base) for lr in head)
    assert stem and all(lr == pytest.approx(base * rate**(num_layers - 1))
                        for lr in stem)
    # from the head down the blocks, never more than the layer above
    by_layer = sorted(lrs.values(), key=lambda v: v[1])
    assert all(a[0] <= b[0] for a, b in zip(by_layer, by_layer[1:]))
    blocks = {layer for n, (_, layer) in lrs.items() if '.stages.' in n}
    assert blocks == set(range(1, num_layers - 1))  # one layer per block
    # the norm / bias weight decay of the fine-tuning configs stays
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    named = dict(model.named_parameters())
    decay = {
        id(g['params'][0]): g['weight_decay']
        for g in wrapper.optimizer.param_groups
    }
    assert decay[id(named['head.fc.bias'])] == 0
    assert decay[id(named['head.fc.weight'])] == 0.05


@pytest.fixture(scope='module')
def stand_in(tmp_path_factory):
    """Per family: a stand-in for a converted official checkpoint of a tiny
    arch (a 1000-class classifier, weights moved off their
    initialisation), saved as mmengine does."""

    def make(path, family):
        torch.manual_seed(0)
        cfg = load_config(path).model
        cfg.backbone.update(TINY[family], init_cfg=None)
        cfg.head.num_classes = 1000
        model = MODELS.build(cfg)
        model.init_weights()
        state = {}
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                v = v + 0.05 * torch.randn_like(v)
                v = v.abs() if k.endswith('running_var') else v
            state[k] = v
        out = str(tmp_path_factory.mktemp('ckpt') / f'{family}.pth')
        save_checkpoint({'meta': {}, 'state_dict': state}, out)
        return out, state

    return make


@pytest.mark.parametrize('path', sorted(LAYER_DECAY))
def test_layer_decay_finetune_step(root, path, digits_subset, stand_in,
                                   tmp_path):
    """One real fine-tuning step (a tiny arch, 16 digits at 32x32): the
    backbone starts from the checkpoint, the 10-class head is fresh, and
    AdamW's first step moves each tensor by about its own lr, so the stem
    moves rate ** (layers - 1) times as far as the head."""
    cfg = load_config(f'{root}/{path}')
    family = cfg.model.backbone.type
    ckpt, ref = stand_in(f'{root}/{path}', family)
    cfg = tiny_cfg(
        f'{root}/{path}',
        digits_subset,
        tmp_path, {'load_from': ckpt},
        samples=(16, 8))
    cfg.model.backbone.update(TINY[family])
    cfg.model.head.in_channels = TINY[family]['arch']['embed_dims'][-1]
    runner, rec, log = train(cfg)
    assert runner.iter == 1
    keys = [k for k in ref if k.startswith('backbone.')]
    assert all(torch.equal(rec.before[k], ref[k]) for k in keys)
    assert rec.before['head.fc.weight'].shape[0] == 10

    model = runner.model
    lrs = group_lrs(model, cfg.optim_wrapper)
    num_layers = max(layer for _, layer in lrs.values()) + 1
    rate = cfg.optim_wrapper.paramwise_cfg.layer_decay_rate

    def moved(name):
        return (rec.after[name] - rec.before[name]).abs().max().item()

    head = 'head.fc.weight'
    stem = next(k for k, v in rec.before.items()  # the first stem conv
                if k.startswith('backbone.patch_embeds.0.') and v.ndim == 4)
    assert lrs[stem][1] == 0 and lrs[head][1] == num_layers - 1
    ratio = moved(stem) / moved(head)
    assert ratio == pytest.approx(rate**(num_layers - 1), rel=0.05)
    assert f'Load checkpoint from {ckpt}' in log
