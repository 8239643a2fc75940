"""Training tricks: ThreeAugment, SophiaG with its Hessian hook, DeiT-style
distillation."""
import copy
import os
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import Compose
from mmengine.optim import build_optim_wrapper
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain.registry import MODELS, TRANSFORMS
from mmpretrain.structures import DataSample

import mogazoo  # noqa: F401
from mogazoo.datasets import ThreeAugment
from mogazoo.engine import SophiaG, SophiaHessianHook
from mogazoo.utils import load_config
from runner_utils import tiny_cfg, train

DIGITS_CFG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
SOPHIA_CFG = 'configs/custom/moganet-xtiny_sophia_digits.py'
DISTILL_CFG = 'configs/custom/moganet-xtiny_distill-moganet-xtiny_digits.py'
THREE_AUG_CFG = 'configs/custom/moganet-xtiny_3aug_image-folder.py'


# ThreeAugment -------------------------------------------------------------
def which_op(img, out):
    """The distortion that made ``out`` from ``img`` (colour noise), told
    from the pixels alone."""
    if (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[...,
                                                                  2]).all():
        return 'grayscale'
    if np.array_equal(out, np.where(img >= 128, 255 - img, img)):
        return 'solarize'
    return 'blur'


def test_three_augment_picks_each_distortion_and_does_it():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    aug = TRANSFORMS.build(dict(type='ThreeAugment'))
    seen = []
    for seed in range(90):
        np.random.seed(seed)
        out = aug(dict(img=img.copy()))['img']
        assert out.shape == img.shape and out.dtype == np.uint8
        op = which_op(img, out)
        seen.append(op)
        np.random.seed(seed)
        chosen, sigma = aug.choose()
        assert op == chosen
        if op == 'grayscale':
            assert np.array_equal(out[..., 0],
                                  cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
        if op == 'blur':
            assert 0.1 <= sigma <= 2.0
            assert np.array_equal(out, cv2.GaussianBlur(img, (0, 0), sigma))
            if sigma > 0.5:  # (a sigma under ~0.35 is a 1-pixel kernel)
                assert out.var() < 0.8 * img.var()
    counts = {op: seen.count(op) for op in ThreeAugment.OPS}
    assert sum(counts.values()) == 90, counts
    assert all(15 <= c <= 45 for c in counts.values()), counts


def test_three_augment_prob_and_config_pipeline(root, digits_subset):
    img = np.random.default_rng(1).integers(0, 256, (8, 8, 3), np.uint8)
    out = TRANSFORMS.build(dict(type='ThreeAugment', prob=0.0))(
        dict(img=img.copy()))
    assert np.array_equal(out['img'], img)
    cfg = load_config(f'{root}/{THREE_AUG_CFG}')
    pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
    assert 'ThreeAugment' in repr(pipeline)
    folder = f'{digits_subset}/train/3'
    packed = pipeline(dict(img_path=f'{folder}/{os.listdir(folder)[0]}'))
    assert packed['inputs'].shape == (3, 224, 224)


# SophiaG -----------------------------------------------------------------
def test_sophia_step_is_the_formula():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0]))
    opt = SophiaG([p],
                  lr=0.1,
                  betas=(0.9, 0.5),
                  rho=0.2,
                  weight_decay=0.1,
                  bs=10)
    p.grad = torch.tensor([0.4, -0.2, 0.0, 1.0])
    opt.update_hessian()
    h = 0.5 * p.grad**2
    assert torch.allclose(opt.state[p]['hessian'], h)
    g = torch.tensor([0.3, 0.1, -0.05, 2.0])
    p.grad = g.clone()
    before = p.detach().clone()
    opt.step()
    m = 0.1 * g
    ratio = (m / torch.clamp(0.2 * 10 * h, min=1e-15)).clamp(-1, 1)
    expect = before * (1 - 0.1 * 0.1) - 0.1 * ratio
    assert torch.allclose(p.detach(), expect)
    # the Hessian EMA is untouched by step()
    assert torch.allclose(opt.state[p]['hessian'], h)
    # h = 0 (3rd entry has no curvature yet): a sign step of size lr
    assert ratio[2] == -1


def test_sophia_loss_decreases_on_a_small_problem():
    torch.manual_seed(0)
    n, d, k = 256, 10, 4
    y = torch.randint(k, (n, ))
    x = torch.randn(k, d)[y] * 1.5 + torch.randn(n, d)
    model = torch.nn.Sequential(
        torch.nn.Linear(d, 32), torch.nn.GELU(), torch.nn.Linear(32, k))
    opt = SophiaG(
        model.parameters(), lr=0.02, rho=0.03, weight_decay=0.0, bs=n)
    losses, hessians = [], []
    for it in range(30):
        loss = F.cross_entropy(model(x), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        opt.zero_grad()
        if it % 5 == 4:  # the refresh SophiaHessianHook does
            logits = model(x)
            labels = torch.distributions.Categorical(logits=logits).sample()
            F.cross_entropy(logits, labels).backward()
            opt.update_hessian()
            opt.zero_grad()
        hessians.append(opt.state[model[0].weight]['hessian'].clone())
    assert losses[-1] < 0.3 * losses[0], losses
    assert all(losses[i + 1] < losses[i] for i in range(5))
    changed = [
        i for i in range(1, 30)
        if not torch.equal(hessians[i], hessians[i - 1])
    ]
    assert changed == [4, 9, 14, 19, 24, 29]


def test_sophia_hook_refreshes_at_the_interval_in_a_run(
        root, digits_subset, tmp_path, monkeypatch):
    calls = []
    update = SophiaG.update_hessian

    def spy(self):
        calls.append(
            sum(p.grad is not None for g in self.param_groups
                for p in g['params']))
        update(self)

    monkeypatch.setattr(SophiaG, 'update_hessian', spy)
    cfg = tiny_cfg(
        f'{root}/{SOPHIA_CFG}',
        digits_subset,
        tmp_path, {'custom_hooks.1.interval': 2},
        batch_size=8,
        samples=(32, 16))
    runner, rec, log = train(cfg, fn=lambda runner: len(calls))
    opt = runner.optim_wrapper.optimizer
    assert isinstance(opt, SophiaG) and opt.defaults['bs'] == 64
    assert opt.defaults['rho'] == 0.01 and opt.defaults['lr'] == 2e-4
    # refreshed after iterations 2 and 4 only, with gradients of every
    # parameter
    assert rec.per_iter == [0, 1, 1, 2]
    n_params = sum(1 for _ in runner.model.parameters())
    assert calls == [n_params, n_params]
    assert all(p.grad is None for p in runner.model.parameters())
    h = [opt.state[p]['hessian'] for p in runner.model.parameters()]
    assert all((x >= 0).all() for x in h) and sum(x.sum() for x in h) > 0
    changed = [
        k for k in rec.before if not torch.equal(rec.before[k], rec.after[k])
    ]
    assert len(changed) > 0.9 * len(rec.before)


def test_sophia_hook_needs_sophia():
    model = torch.nn.Linear(2, 2)
    runner = SimpleNamespace(
        optim_wrapper=SimpleNamespace(
            optimizer=torch.optim.AdamW(model.parameters())))
    with pytest.raises(TypeError, match='update_hessian.*AdamW'):
        SophiaHessianHook().before_train(runner)


# Distillation --------------------------------------------------------------
@pytest.fixture(scope='module')
def teachers(root, tmp_path_factory):
    """Two different trained-looking teachers for the 10 digits, saved as
    checkpoints, and the model config they were built from."""
    model_cfg = load_config(f'{root}/{DIGITS_CFG}').model
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        teacher = MODELS.build(copy.deepcopy(model_cfg))
        teacher.init_weights()
        with torch.no_grad():  # confident, distinct logits
            teacher.head.fc.weight.normal_(0, 1.0)
        path = str(tmp_path_factory.mktemp('teacher') / f't{seed}.pth')
        save_checkpoint({'state_dict': teacher.state_dict()}, path)
        paths.append(path)
    return model_cfg, paths


def student(root, teacher_ckpt, **kwargs):
    cfg = load_config(f'{root}/{DISTILL_CFG}').model
    cfg.update(teacher=f'{root}/{DIGITS_CFG}', teacher_checkpoint=teacher_ckpt)
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(n=4):
    torch.manual_seed(5)
    inputs = torch.randn(n, 3, 32, 32)
    labels = torch.arange(n) % 10
    return inputs, [DataSample().set_gt_label(int(i)) for i in labels]


def independent_teacher(model_cfg, path):
    teacher = MODELS.build(copy.deepcopy(model_cfg))
    load_checkpoint(teacher, path, strict=True)
    return teacher.eval()


@pytest.mark.parametrize('kind', ['hard', 'soft'])
def test_distillation_loss_is_deit_computed_independently(
        root, teachers, kind):
    model_cfg, paths = teachers
    alpha, tau = 0.3, 2.0
    model = student(root, paths[0], distill_type=kind, alpha=alpha, tau=tau)
    model.eval()  # BatchNorm statistics fixed, to recompute the same logits
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    with torch.no_grad():
        s = model(inputs, mode='tensor')
        t = independent_teacher(model_cfg, paths[0])(inputs, mode='tensor')
    # the head's own loss: label smoothing 0.1 over 10 classes
    target = F.one_hot(torch.cat([d.gt_label for d in samples]), 10) * 0.9
    plain = -((target + 0.01) * F.log_softmax(s, 1)).sum(1).mean()
    if kind == 'hard':
        expect = F.cross_entropy(s, t.argmax(1))
    else:
        p_t = F.softmax(t / tau, 1)
        kl = (p_t * (p_t.log() - F.log_softmax(s / tau, 1))).sum()
        expect = kl * tau**2 / s.numel()
    assert torch.allclose(losses['loss_distill'], alpha * expect, rtol=1e-5)
    assert torch.allclose(losses['loss_cls'], (1 - alpha) * plain, rtol=1e-5)
    assert losses['loss_distill'] > 0


def test_distillation_depends_on_the_teacher(root, teachers):
    model_cfg, paths = teachers
    inputs, samples = batch()
    models = [
        student(root, path, distill_type='soft').eval() for path in paths
    ]
    values = [model.loss(inputs, samples) for model in models]
    assert torch.equal(values[0]['loss_cls'], values[1]['loss_cls'])
    assert not torch.allclose(values[0]['loss_distill'],
                              values[1]['loss_distill'])
    # a teacher given as a model dict instead of a config file is the same
    by_dict = student(root, paths[1], teacher=copy.deepcopy(model_cfg))
    assert torch.equal(
        by_dict.teacher_logits(inputs), models[1].teacher_logits(inputs))


def test_teacher_is_frozen_through_a_training_step(root, teachers):
    model = student(root, teachers[1][0])
    teacher = model.teacher
    t_before = copy.deepcopy(teacher.state_dict())
    s_before = copy.deepcopy(model.state_dict())
    assert not any('teacher' in k for k in s_before)  # not saved with it
    optim = build_optim_wrapper(model,
                                dict(optimizer=dict(type='AdamW', lr=1e-2)))
    in_optim = {
        id(p)
        for g in optim.optimizer.param_groups
        for p in g['params']
    }
    assert not in_optim & {id(p) for p in teacher.parameters()}
    model.train()
    _, samples = batch(4)
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
            for _ in samples
        ],
        data_samples=samples)
    log_vars = model.train_step(data, optim)
    assert {'loss', 'loss_cls', 'loss_distill'} <= set(log_vars)
    assert not teacher.training
    assert all(p.grad is None and not p.requires_grad
               for p in teacher.parameters())
    assert all(
        torch.equal(v, t_before[k]) for k, v in teacher.state_dict().items())
    assert not torch.equal(model.state_dict()['head.fc.weight'],
                           s_before['head.fc.weight'])
    # the student's checkpoint loads into the plain classifier
    plain = MODELS.build(load_config(f'{root}/{DIGITS_CFG}').model)
    plain.load_state_dict(model.state_dict(), strict=True)


def test_missing_teacher_checkpoint_is_named(root):
    model = MODELS.build(load_config(f'{root}/{DISTILL_CFG}').model.copy())
    model.teacher_checkpoint = '/nowhere/teacher_epoch_12.pth'
    with pytest.raises(
            FileNotFoundError,
            match='Teacher checkpoint not '
            'found: /nowhere/teacher_epoch_12.pth'):
        model.init_weights()


def test_distill_config_trains_with_teacher_from_cfg_options(
        root, digits_subset, teachers, tmp_path):
    cfg = tiny_cfg(
        f'{root}/{DISTILL_CFG}',
        digits_subset,
        tmp_path, {
            'model.teacher': f'{root}/{DIGITS_CFG}',
            'model.teacher_checkpoint': teachers[1][1],
            'model.distill_type': 'soft',
        },
        batch_size=8,
        samples=(16, 8))
    runner, _, log = train(cfg)
    assert runner.model.teacher_checkpoint == teachers[1][1]
    assert 'loss_distill: ' in log and 'loss_cls: ' in log
