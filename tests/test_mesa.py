"""MESAHook: the EMA model as teacher, as NVlabs' FasterViT trains."""
import glob
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import EMAHook, Hook
from mmengine.model import ExponentialMovingAverage
from mmengine.registry import MODELS
from mmengine.runner import Runner

from mogazoo.engine.hooks import MESAHook
from mogazoo.engine.runner import build_runner
from mogazoo.utils import load_config
from runner_utils import tiny_cfg

DIGITS_CFG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
MIXUP = {
    'model.train_cfg': dict(augments=dict(type='Mixup', alpha=0.8)),
    'model.backbone.drop_path_rate': 0.0
}


def classifier_and_batch(root, digits_subset):
    """MogaNet-XT of the digits config with Mixup, and a batch of 8 digits
    at 32x32 as the data loader gives it."""
    cfg = tiny_cfg(
        f'{root}/{DIGITS_CFG}',
        digits_subset,
        '/tmp',
        MIXUP,
        batch_size=8,
        samples=(8, 8))
    torch.manual_seed(0)
    # as the Runner does: the top-level data_preprocessor goes to the model
    cfg.model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(cfg.model)
    loader = Runner.build_dataloader(cfg.train_dataloader)
    return model, next(iter(loader))


def fake_runner(model, hooks):
    return SimpleNamespace(model=model, hooks=hooks)


def ema_of(model, noise=0.05):
    """An EMA hook whose averaged model differs from ``model``."""
    hook = EMAHook()
    hook.ema_model = ExponentialMovingAverage(model)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in hook.ema_model.module.parameters():
            p.add_(noise * torch.randn(p.shape, generator=g))
    return hook


def test_loss_is_the_official_kd_of_the_ema_teacher_on_the_mixed_batch(
        root, digits_subset):
    model, batch = classifier_and_batch(root, digits_subset)
    ema = ema_of(model)
    hook = MESAHook(weight=0.7)
    hook.before_train(fake_runner(model, [ema]))
    hook.active = True
    model.train()
    data = model.data_preprocessor(batch, True)
    inputs = data['inputs']
    # the batch augment ran: the images are mixtures
    plain = model.data_preprocessor(batch, False)['inputs']
    assert (inputs - plain).abs().max() > 0.1
    losses = model.loss(**data)
    assert set(losses) == {'loss', 'loss_mesa'}

    # independently: official kdloss = 50 * KLDivLoss(batchmean) of the
    # T=3 softmaxes, the teacher in eval mode on the same mixed inputs
    student = model(inputs, mode='tensor')
    teacher = ema.ema_model.module.eval()
    with torch.no_grad():
        t = teacher(inputs, mode='tensor')
    kl = torch.nn.KLDivLoss(reduction='batchmean')
    expect = 0.7 * 50.0 * kl(
        F.log_softmax(student / 3, dim=1), F.softmax(t / 3, dim=1))
    assert expect > 1e-3  # the teacher differs from the student
    torch.testing.assert_close(
        losses['loss_mesa'], expect, rtol=1e-5, atol=1e-7)

    # gradients reach the student through loss_mesa, never the teacher
    losses['loss_mesa'].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.parameters())
    assert all(p.grad is None for p in teacher.parameters())

    hook.active = False
    assert set(model.loss(**data)) == {'loss'}
    hook.after_train(None)
    assert 'loss' not in vars(model)  # the class's method again
    assert set(model.loss(**data)) == {'loss'}


def test_needs_an_ema_hook_and_sane_arguments(root, digits_subset):
    model = torch.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match='MESAHook needs an EMAHook'):
        MESAHook(weight=0.1).before_train(fake_runner(model, []))
    with pytest.raises(TypeError, match='MESAHook needs a classifier'):
        MESAHook(weight=0.1).before_train(fake_runner(model, [EMAHook()]))
    for bad in (dict(weight=0), dict(weight=1, start_ratio=1.0),
                dict(weight=1, temperature=0)):
        with pytest.raises(ValueError, match='MESAHook'):
            MESAHook(**bad)


def test_progress_by_epoch_and_by_iteration():
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
    hook = MESAHook(weight=1, start_ratio=0.25)
    epoch_loop = EpochBasedTrainLoop.__new__(EpochBasedTrainLoop)
    iter_loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    seen = []
    for epoch in range(8):  # official: epoch / epochs > ratio
        hook.before_train_iter(
            SimpleNamespace(
                train_loop=epoch_loop,
                epoch=epoch,
                max_epochs=8,
                iter=0,
                max_iters=1), 0)
        seen.append(hook.active)
    assert seen == [False, False, False, True, True, True, True, True]
    for it, on in ((0, False), (250, False), (251, True)):
        hook.before_train_iter(
            SimpleNamespace(
                train_loop=iter_loop,
                iter=it,
                max_iters=1000,
                epoch=0,
                max_epochs=1), 0)
        assert hook.active is on


class LossKeys(Hook):
    priority = 'LOWEST'

    def __init__(self):
        self.keys = []

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self.keys.append((runner.epoch, sorted(outputs)))


def test_runs_in_a_runner_from_half_of_the_epochs(root, digits_subset,
                                                  tmp_path):
    cfg = tiny_cfg(
        f'{root}/{DIGITS_CFG}',
        digits_subset,
        tmp_path,
        MIXUP,
        epochs=4,
        batch_size=8,
        samples=(16, 8))
    cfg.custom_hooks = [
        dict(type='EMAHook', momentum=0.1, priority='ABOVE_NORMAL'),
        dict(type='MESAHook', weight=0.5, start_ratio=0.5),
    ]
    runner = build_runner(cfg)
    keys = LossKeys()
    runner.register_hook(keys)
    runner.train()
    # 2 iterations an epoch; on from epoch 3 (2 / 4 is not > 0.5)
    assert [k for k in keys.keys
            ] == [(e, ['loss', 'loss_mesa'] if e == 3 else ['loss'])
                  for e in range(4) for _ in range(2)]
    model = runner.model
    assert 'loss' not in vars(model)  # unwrapped after training
    assert not any('mesa' in k for k in model.state_dict())
    ckpt = torch.load(
        osp.join(runner.work_dir, 'epoch_4.pth'),
        map_location='cpu',
        weights_only=False)
    assert set(ckpt['state_dict']) == set(model.state_dict())


@pytest.mark.parametrize(
    'path',
    sorted(
        glob.glob(
            osp.join(
                osp.dirname(osp.dirname(__file__)),
                'configs/fastervit/*_in1k.py'))),
    ids=osp.basename)
def test_fastervit_configs_apply_the_official_mesa(path):
    # TRAINING.md: --mesa 0.1 / 0.2 / 0.5 / 0.5 / 5.0 / 5.0 / 5.0 for 0-6,
    # FasterViT-3 from 30 % of the epochs (its yaml); 21K fine-tunes and the
    # any-res model keep the recipe of the arch they inherit
    arch = osp.basename(path).split('_')[0].split('-')[1]
    weight = {'0': 0.1, '1': 0.2, '2': 0.5, '3': 0.5}.get(arch, 5.0)
    cfg = load_config(path)
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert hooks.index('EMAHook') < hooks.index('MESAHook')
    mesa = cfg.custom_hooks[hooks.index('MESAHook')]
    assert mesa['weight'] == weight
    assert mesa['start_ratio'] == (0.3 if arch == '3' else 0.25)
    MESAHook(**{k: v for k, v in mesa.items() if k != 'type'})
