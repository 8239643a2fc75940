"""A hook that stops a run whose checkpoint does not fit its model."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmpretrain.registry import HOOKS

from mogazoo.checkpoint import check_fit


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Check every checkpoint the runner loads against the model.

    mmengine loads ``load_from`` and resumed checkpoints non-strictly: a
    checkpoint of another arch, family or class count only leaves "size
    mismatch" / "missing keys" log lines, and evaluation goes on with a
    partly random network. This hook, run before the weights are copied
    (``after_load_checkpoint``), applies the rules of
    :func:`mogazoo.checkpoint.fit.check_fit`:

    - evaluation (``tools/test.py``, ``dist_test.sh``) and ``--resume``:
      ``'strict'``, every tensor must fit, else the run stops with a summary
      of what differs and the likely cause;
    - ``load_from`` in training (fine-tuning): ``'finetune'``, the backbone
      must fit; tensors outside it that do not (a head with another class
      count) are dropped with one warning line and keep their fresh
      initialisation.

    ``tools/train.py`` and ``tools/test.py`` add it to every config
    (``default_hooks.checkpoint_fit``); set ``enable=False`` there to load
    as mmengine does.

    Args:
        enable (bool): Check at all. Defaults to True.
    """
    priority = 'VERY_HIGH'  # before any hook that edits the checkpoint

    def __init__(self, enable: bool = True):
        self.enable = enable

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enable:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        training = isinstance(getattr(runner, '_train_loop', None), BaseLoop)
        resuming = bool(getattr(runner, '_resume', False))
        rule = 'finetune' if training and not resuming else 'strict'
        key = 'state_dict' if 'state_dict' in checkpoint else None
        state = checkpoint[key] if key else checkpoint
        source = getattr(runner, '_load_from', None) or 'the checkpoint'
        target = f'the model of {runner.cfg.filename}' if getattr(
            runner.cfg, 'filename', None) else 'the model'
        fitted = check_fit(model.state_dict(), state, rule, source, target)
        if key:
            checkpoint[key] = fitted
        else:
            checkpoint.clear()
            checkpoint.update(fitted)
