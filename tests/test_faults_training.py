"""Training faults stop the run or leave the checkpoints intact (issue 13,
items 3 and 4): a diverged run stops with an error naming the iteration and
the loss and writes no NaN checkpoint; checkpoints are written atomically
and old ones deleted only once the new one is complete."""
import glob
import math
import os.path as osp
import re
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import OptimWrapper
from mmpretrain.registry import HOOKS

import mogazoo  # noqa: F401
from mogazoo.engine.hooks import (AtomicCheckpointHook, FiniteCheckHook,
                                  TrainingDivergedError)
from mogazoo.engine.hooks.finite_check_hook import nonfinite_tensors
from runner_utils import tiny_cfg, tool_exit, train

DIGITS_CFG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
HUGE_LR = {'optim_wrapper.optimizer.lr': 1e6}


def checkpoints(folder):
    """The ``.pth`` files directly in ``folder``, by name."""
    return sorted(osp.basename(p) for p in glob.glob(f'{folder}/*.pth'))


def load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def assert_finite(path):
    """``path`` loads and every tensor of its weights is finite."""
    ckpt = load(path)
    assert ckpt['state_dict'], path
    bad = nonfinite_tensors(ckpt['state_dict'].items())
    assert not bad, f'{path}: {len(bad)} non-finite tensors, e.g. {bad[:3]}'
    return ckpt


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def cfg_for(root, data, work_dir, options=None, epochs=2, keep=3, **kwargs):
    """The digits config on tiny data with a tiny MogaNet (fast to train
    and to save), a checkpoint every epoch."""
    cfg = tiny_cfg(
        f'{root}/{DIGITS_CFG}',
        data,
        work_dir,
        options,
        epochs=epochs,
        **kwargs)
    cfg.model.backbone.arch = dict(
        embed_dims=[8, 16, 24, 32], depths=[1, 1, 1, 1], ffn_ratios=[2] * 4)
    cfg.model.head.in_channels = 32
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=keep)
    return cfg


# hooks that break a run (registered: a config holds type names) -----------
@HOOKS.register_module(force=True)
class FaultsTestHugeLR(Hook):
    """Set the learning rate to 1e6 from the start of epoch ``epoch``
    (0-based)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def before_train_epoch(self, runner):
        if runner.epoch == self.epoch:
            for group in runner.optim_wrapper.optimizer.param_groups:
                group['lr'] = 1e6


@HOOKS.register_module(force=True)
class FaultsTestInfGrad(Hook):
    """Make the gradient of the head's weight inf from iteration
    ``iteration`` (0-based) on."""

    def __init__(self, iteration):
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.iteration:
            runner.model.head.fc.weight.register_hook(
                lambda g: torch.full_like(g, math.inf))


@HOOKS.register_module(force=True)
class FaultsTestBreakWeights(Hook):
    """Put a NaN into the head's bias after iteration ``iteration``
    (0-based), as an update that diverges would."""

    def __init__(self, iteration):
        self.iteration = iteration

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if runner.iter == self.iteration:
            runner.model.head.fc.bias.data[0] = math.nan


# configs -----------------------------------------------------------------
def test_every_classification_config_checks_and_saves_atomically(root):
    configs = [
        p for p in glob.glob(f'{root}/configs/*/*.py') if '_base_' not in p
    ]
    assert len(configs) > 20
    for path in configs:
        hooks = Config.fromfile(path).default_hooks
        assert hooks.finite_check.type == 'FiniteCheckHook', path
        assert hooks.finite_check.get('enable', True), path
        assert hooks.checkpoint.type == 'AtomicCheckpointHook', path
    # the digit-scenes detection / segmentation configs (the other six
    # digit-scenes configs inherit these)
    for path in ('moganet/det/retinanet_moganet-xtiny_fpn_digit-scenes.py',
                 'moganet/seg/fpn_moganet-xtiny_digit-scenes.py'):
        hooks = Config.fromfile(f'{root}/configs/{path}').default_hooks
        assert hooks.finite_check.type == 'mmpretrain.FiniteCheckHook'
        assert hooks.checkpoint.type == 'mmpretrain.AtomicCheckpointHook'


# divergence --------------------------------------------------------------
def test_train_py_stops_a_diverged_run(root, digits_subset, tmp_path):
    """lr=1e6: the loss is NaN from the 2nd iteration. tools/train.py exits
    non-zero at that iteration, naming it and the loss, and writes no
    checkpoint (a NaN epoch_N.pth and best_*.pth before the check)."""
    cfg = cfg_for(
        root, digits_subset, tmp_path / 'unused', epochs=3, validate=True)
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint.save_best = 'auto'
    cfg.dump(str(tmp_path / 'cfg.py'))
    work_dir = tmp_path / 'work'
    err = str(
        tool_exit('tools/train.py', tmp_path / 'cfg.py', '--work-dir',
                  work_dir, '--cfg-options', 'optim_wrapper.optimizer.lr=1e6'))
    assert err.startswith('train.py: error: Training diverged at '
                          'iteration 2 (epoch 1'), err
    assert 'loss=nan' in err and 'default_hooks.finite_check.enable=False' \
        in err, err
    assert '\n' not in err  # one line, no traceback
    [log] = glob.glob(f'{work_dir}/*/*.log')
    with open(log) as f:
        log = f.read()
    assert 'Epoch(train) [1][1/2]' in log  # it trained
    assert 'Epoch(train) [2]' not in log and 'Epoch(val)' not in log
    assert re.search(r'ERROR - .*Training diverged at iteration 2 ', log)
    for name in checkpoints(work_dir):
        assert_finite(work_dir / name)
    assert not osp.exists(work_dir / 'last_checkpoint')


def test_late_divergence_keeps_the_good_checkpoints(root, digits_subset,
                                                    tmp_path):
    """Two good epochs, then lr=1e6 from the third: the run stops in the
    third epoch; the two latest good checkpoints (max_keep_ckpts=2) and the
    best one are still there, finite, and last_checkpoint names epoch 2."""
    cfg = cfg_for(
        root, digits_subset, tmp_path, epochs=4, keep=2, validate=True)
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint.save_best = 'auto'
    cfg.custom_hooks.append(dict(type='FaultsTestHugeLR', epoch=2))
    with pytest.raises(TrainingDivergedError) as info:
        train(cfg)
    assert re.match(
        r'Training diverged at iteration 6 \(epoch 3, batch '
        r'2/2\): non-finite loss: loss=(nan|inf)\. ',
        str(info.value)), info.value
    names = checkpoints(tmp_path)
    assert 'epoch_1.pth' in names and 'epoch_2.pth' in names, names
    assert 'epoch_3.pth' not in names and 'epoch_4.pth' not in names, names
    [best] = [n for n in names if n.startswith('best_accuracy_top1_epoch_')]
    for name in names:
        ckpt = assert_finite(tmp_path / name)
        if name == 'epoch_2.pth':
            assert ckpt['meta']['epoch'] == 2
    assert last_checkpoint(tmp_path) == str(tmp_path / 'epoch_2.pth')


def test_switch_turns_the_check_off(root, digits_subset, tmp_path):
    cfg = cfg_for(
        root,
        digits_subset,
        tmp_path,
        options={
            **HUGE_LR, 'default_hooks.finite_check.enable': False
        },
        epochs=1)
    runner, _, log = train(cfg)
    [hook] = [h for h in runner.hooks if isinstance(h, FiniteCheckHook)]
    assert hook.enable is False
    assert 'loss: nan' in log  # trained on, as before the check
    assert checkpoints(tmp_path) == ['epoch_1.pth']
    assert nonfinite_tensors(
        load(tmp_path / 'epoch_1.pth')['state_dict'].items())


def test_grad_norm_checked_when_clipping(root, digits_subset, tmp_path):
    """An inf gradient in the 2nd iteration with clip_grad on: the run stops
    at that iteration, naming the gradient norm (the loss is still
    finite)."""
    cfg = cfg_for(
        root,
        digits_subset,
        tmp_path,
        options={'optim_wrapper.clip_grad': dict(max_norm=5.0)},
        epochs=2)
    cfg.custom_hooks.append(dict(type='FaultsTestInfGrad', iteration=1))
    with pytest.raises(TrainingDivergedError) as info:
        train(cfg)
    msg = str(info.value)
    assert msg.startswith('Training diverged at iteration 2 (epoch 1, batch '
                          '2/2): non-finite gradient norm'), msg
    assert 'grad_norm=inf' in msg and 'loss=nan' not in msg, msg
    assert checkpoints(tmp_path) == []


def fake_runner(wrapper, grad_norm, loss=2.3):
    hub = MessageHub.get_instance('test_faults_training')
    hub.update_scalar('train/grad_norm', grad_norm)
    return SimpleNamespace(
        optim_wrapper=wrapper, message_hub=hub, iter=6, epoch=1,
        train_loop=SimpleNamespace(dataloader=[0] * 4),
        logger=MMLogger.get_instance('test_faults_training')), \
        dict(loss=torch.tensor(loss))


def test_grad_norm_not_checked_under_amp(monkeypatch):
    """Under AmpOptimWrapper an inf gradient norm is a skipped step (the
    loss scaler's job), not a divergence; a plain wrapper with clipping
    stops on it. AmpOptimWrapper wants a GPU: its availability check is
    patched to build one on a CPU."""
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    params = [torch.nn.Parameter(torch.ones(2))]
    clip = dict(max_norm=1.0)
    amp = amp_optimizer_wrapper.AmpOptimWrapper(
        optimizer=torch.optim.SGD(params, lr=0.1), clip_grad=dict(clip))
    plain = OptimWrapper(
        optimizer=torch.optim.SGD(params, lr=0.1), clip_grad=dict(clip))
    unclipped = OptimWrapper(optimizer=torch.optim.SGD(params, lr=0.1))
    hook = FiniteCheckHook()
    assert not hook.grad_norm_checked(fake_runner(amp, 1.0)[0])
    assert hook.grad_norm_checked(fake_runner(plain, 1.0)[0])
    assert not hook.grad_norm_checked(fake_runner(unclipped, 1.0)[0])
    for wrapper in (amp, unclipped):  # no error
        runner, outputs = fake_runner(wrapper, math.inf)
        hook.after_train_iter(runner, 3, outputs=outputs)
    runner, outputs = fake_runner(plain, math.inf)
    with pytest.raises(
            TrainingDivergedError,
            match=r'iteration 7 \(epoch '
            r'2, batch 4/4\): non-finite gradient norm .*'
            r'loss=2.3, grad_norm=inf'):
        hook.after_train_iter(runner, 3, outputs=outputs)
    # a NaN loss stops under AMP too
    runner, outputs = fake_runner(amp, 1.0, loss=math.nan)
    with pytest.raises(
            TrainingDivergedError, match='non-finite loss: '
            'loss=nan'):
        hook.after_train_iter(runner, 3, outputs=outputs)


def test_no_checkpoint_with_nan_weights(root, digits_subset, tmp_path):
    """Weights broken by the last update of an epoch (the loss has not
    shown it yet) are refused before the checkpoint hook saves them, and a
    checkpoint handed to ``before_save_checkpoint`` with a NaN is too."""
    cfg = cfg_for(root, digits_subset, tmp_path, epochs=3)
    cfg.custom_hooks.append(dict(type='FaultsTestBreakWeights', iteration=3))
    with pytest.raises(
            TrainingDivergedError,
            match=r'diverged after iteration 4 \(epoch 2\): 1 '
            r'tensor\(s\) of the model hold NaN/inf after the '
            r'epoch: head.fc.bias\. '):
        train(cfg)
    assert checkpoints(tmp_path) == ['epoch_1.pth']
    assert_finite(tmp_path / 'epoch_1.pth')

    hook = FiniteCheckHook(max_names=2)
    runner = fake_runner(None, 1.0)[0]
    state = {f'w{i}': torch.full((2, ), math.inf) for i in range(4)}
    state['steps'] = torch.tensor(3)  # integer buffers are not checked
    with pytest.raises(
            TrainingDivergedError,
            match=r'4 tensor\(s\) .* '
            r'checkpoint about to be saved: w0, w1 and 2 more'):
        hook.before_save_checkpoint(runner, dict(state_dict=state))


# atomic checkpoints ------------------------------------------------------
def interrupt_writes(monkeypatch, part):
    """Make mmengine's local writes of files whose name contains ``part``
    write half of the data and fail, as a run killed mid-write would."""
    put = LocalBackend.put

    def half_put(self, obj, filepath):
        if part in osp.basename(str(filepath)):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise OSError(f'interrupted while writing {filepath}')
        return put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', half_put)


def test_interrupted_save_keeps_the_complete_checkpoints(
        root, digits_subset, tmp_path, monkeypatch):
    """The save of epoch 2 dies half-way (max_keep_ckpts=1, best kept):
    no epoch_2.pth, epoch_1.pth and the best are intact, last_checkpoint
    still names epoch_1.pth, and resuming continues from it; a partial
    temporary file a killed run left is removed, never resumed from; a new
    best whose write dies leaves the previous best."""

    def cfg_2_epochs():
        cfg = cfg_for(
            root, digits_subset, tmp_path, epochs=2, keep=1, validate=True)
        cfg.train_cfg.val_interval = 1
        cfg.default_hooks.checkpoint.save_best = 'auto'
        return cfg

    interrupt_writes(monkeypatch, 'epoch_2')
    with pytest.raises(OSError, match='interrupted'):
        train(cfg_2_epochs())
    names = checkpoints(tmp_path)
    assert names == ['best_accuracy_top1_epoch_1.pth', 'epoch_1.pth'], names
    for name in names:
        assert_finite(tmp_path / name)
    assert last_checkpoint(tmp_path) == str(tmp_path / 'epoch_1.pth')
    assert not glob.glob(f'{tmp_path}/*.tmp')  # the failed write cleaned up

    # what kill -9 during a write leaves: a partial temporary file
    with open(tmp_path / 'epoch_2.pth.tmp', 'wb') as f:
        f.write(b'PK\x03\x04 partial')
    monkeypatch.undo()
    cfg = cfg_2_epochs()
    cfg.resume = True  # what tools/train.py --resume sets
    runner, _, log = train(cfg)
    assert f'Load checkpoint from {tmp_path}/epoch_1.pth' in log
    assert 'resumed epoch: 1' in log
    assert f'Removed {tmp_path}/epoch_2.pth.tmp' in log
    assert 'Epoch(train) [1]' not in log and 'Epoch(train) [2]' in log
    assert last_checkpoint(tmp_path) == str(tmp_path / 'epoch_2.pth')
    assert load(tmp_path / 'epoch_2.pth')['meta']['epoch'] == 2
    assert 'epoch_1.pth' not in checkpoints(tmp_path)
    assert not glob.glob(f'{tmp_path}/*.tmp')

    # a new best whose write dies keeps the previous best
    [hook] = [h for h in runner.hooks if isinstance(h, AtomicCheckpointHook)]
    old_best = hook.best_ckpt_path
    interrupt_writes(monkeypatch, 'best_')
    with pytest.raises(OSError, match='interrupted'):
        hook._save_best_checkpoint(runner, {'accuracy/top1': 1000.0})
    assert osp.isfile(old_best)
    assert_finite(old_best)
    assert [n for n in checkpoints(tmp_path)
            if n.startswith('best_')] == [osp.basename(old_best)]


def test_same_files_as_mmengine_checkpoint_hook(root, digits_subset, tmp_path):
    """The options of mmengine's CheckpointHook give the same files (and
    the same last_checkpoint) with the atomic hook. (``by_epoch=True``,
    the default, is what the other tests use.)"""
    files = {}
    # 'mmengine.CheckpointHook': the tools keep mmengine's hook when named
    # with its scope (a plain 'CheckpointHook' becomes the atomic one)
    for hook, hook_type in (('CheckpointHook', 'mmengine.CheckpointHook'),
                            ('AtomicCheckpointHook', 'AtomicCheckpointHook')):
        work_dir = tmp_path / hook / 'work'
        out = str(tmp_path / hook / 'out')
        opts = dict(
            by_epoch=False,
            interval=1,
            max_keep_ckpts=1,
            save_best='auto',
            rule='greater',
            save_last=True,
            filename_tmpl='ckpt_{}.pth',
            out_dir=out,
            published_keys=['meta', 'state_dict'])
        cfg = cfg_for(root, digits_subset, work_dir, epochs=1, validate=True)
        cfg.randomness = dict(seed=0, deterministic=False)
        cfg.train_cfg.val_interval = 1
        cfg.default_hooks.checkpoint = dict(type=hook_type, **opts)
        runner, _, _ = train(cfg)
        [used] = [h for h in runner.hooks if isinstance(h, CheckpointHook)]
        assert type(used).__name__ == hook
        found = sorted(
            osp.relpath(p, tmp_path / hook)
            for p in glob.glob(f'{out}/**/*.pth', recursive=True))
        # published names carry a hash of the contents (a time stamp in meta)
        found = [
            p.rsplit('-', 1)[0] + '-HASH.pth' if '-' in osp.basename(p) else p
            for p in found
        ]
        files[hook] = (found,
                       osp.relpath(last_checkpoint(work_dir), tmp_path / hook))
        assert not glob.glob(f'{out}/**/*.tmp', recursive=True)
    assert files['AtomicCheckpointHook'] == files['CheckpointHook']
    # 2 iterations: ckpt_1 saved, then dropped for ckpt_2 (max_keep_ckpts);
    # the best after validation; both published
    assert files['CheckpointHook'] == ([
        'out/work/best_accuracy_top1_ckpt_2-HASH.pth',
        'out/work/best_accuracy_top1_ckpt_2.pth', 'out/work/ckpt_2-HASH.pth',
        'out/work/ckpt_2.pth'
    ], 'out/work/ckpt_2.pth'), files
