"""A hook that stops a diverged training run before it writes anything."""
import math
from collections.abc import Mapping

import torch
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS

SWITCH = '--cfg-options default_hooks.finite_check.enable=False'


class TrainingDivergedError(RuntimeError):
    """Training produced a non-finite loss, gradient norm or weight."""


def nonfinite_tensors(named_tensors):
    """Names of the floating-point tensors that hold a NaN or an inf.

    The finiteness of all tensors is computed first and fetched from the
    device at once (one synchronisation, not one per tensor).

    Args:
        named_tensors (Iterable[tuple[str, torch.Tensor]]): Names and
            tensors, e.g. ``model.state_dict().items()``. Tensors of other
            dtypes (integer counters) and other objects are skipped.

    Returns:
        list[str]: The names of the non-finite tensors, in the given order.
    """
    names, flags = [], []
    for name, value in named_tensors:
        if torch.is_tensor(value) and (value.is_floating_point()
                                       or value.is_complex()):
            names.append(name)
            flags.append(torch.isfinite(value.detach()).all())
    if not names:
        return []
    try:
        finite = torch.stack(flags).tolist()
    except RuntimeError:  # tensors on several devices
        finite = [bool(flag) for flag in flags]
    return [name for name, ok in zip(names, finite) if not ok]


def _as_float(value):
    """``value`` (a number or a one-element tensor) as a float, or None."""
    if torch.is_tensor(value):
        if value.numel() != 1:
            return None
        return float(value.detach().float().item())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@HOOKS.register_module()
class FiniteCheckHook(Hook):
    """Stop training at the first non-finite loss, gradient norm or weight.

    Without it a diverged run trains on with a NaN loss, evaluates, and
    writes NaN checkpoints (a ``best_*.pth`` among them) that push the good
    ones out of ``max_keep_ckpts``, and exits 0. This hook raises
    :class:`TrainingDivergedError` instead:

    - after every training iteration, when the loss or one of its terms
      (every entry of the model's outputs whose name contains ``loss``) is
      NaN or inf. The values are the ones the runner has already fetched
      from the device to log them (``RuntimeInfoHook``), so the check adds
      no synchronisation of its own;
    - after every training iteration, when gradient clipping by norm is on
      (``optim_wrapper.clip_grad``) and the gradient norm that the optimizer
      wrapper logs (``train/grad_norm`` in the message hub) is not finite.
      Under an ``AmpOptimWrapper`` an inf gradient norm is normal (the loss
      scaler skips that step and lowers the scale), so the gradient norm is
      not checked there;
    - after every training epoch (before the checkpoint hook saves) and
      before any checkpoint is written (``before_save_checkpoint``), when a
      parameter or buffer of the model, or of its EMA copy, is NaN or inf:
      the last update of an epoch may break the weights without a loss
      showing it yet. No checkpoint holding NaN/inf is ever written.

    The error names the iteration, the epoch and the loss terms with their
    values (or the number of broken tensors and the first few names) and
    how to turn the check off. ``configs/_base_/default_runtime.py``
    registers it as ``default_hooks.finite_check``; turn it off with
    ``--cfg-options default_hooks.finite_check.enable=False``.

    Args:
        enable (bool): Whether to check at all. Defaults to True.
        check_grad_norm (bool): Whether to check the gradient norm when
            clipping by norm is on (never under ``AmpOptimWrapper``).
            Defaults to True.
        check_weights (bool): Whether to check the model's parameters and
            buffers after every epoch and before every checkpoint.
            Defaults to True.
        max_names (int): How many names of non-finite tensors the error
            lists. Defaults to 5.
    """
    # after the logger (the NaN line is in the log first), before the
    # checkpoint hook ('VERY_LOW'), after EMAHook's before_save_checkpoint
    priority = 'LOW'

    def __init__(self,
                 enable=True,
                 check_grad_norm=True,
                 check_weights=True,
                 max_names=5):
        self.enable = enable
        self.check_grad_norm = check_grad_norm
        self.check_weights = check_weights
        self.max_names = max_names
        self._last = (0, 1)  # the last iteration finished, its epoch

    # where ----------------------------------------------------------------
    def _where(self, runner, batch_idx=None):
        """Where training is, in the log's 1-based numbers: the iteration
        being finished (``batch_idx`` given, from ``after_train_iter``) or
        the last one finished (when the weights are checked)."""
        if batch_idx is not None:
            where = f'at iteration {runner.iter + 1}'
            epoch = runner.epoch + 1
        else:
            where = f'after iteration {self._last[0]}'
            epoch = self._last[1]
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            return where + f' of {loop.max_iters}'
        where += f' (epoch {epoch}'
        if batch_idx is not None:
            try:
                where += f', batch {batch_idx + 1}/{len(loop.dataloader)}'
            except (AttributeError, TypeError):
                pass
        return where + ')'

    def before_train(self, runner):
        """Start counting where a resumed run starts.

        Args:
            runner (Runner): The runner of the training process.
        """
        self._last = (runner.iter, max(runner.epoch, 1))

    def _fail(self, runner, message):
        message += (' No checkpoint was written from this state. To train '
                    f'on regardless, turn this check off: {SWITCH}')
        runner.logger.error(message)
        raise TrainingDivergedError(message)

    # the loss and the gradient norm ---------------------------------------
    @staticmethod
    def _wrappers(runner):
        """The optimizer wrappers of the runner (one, or those of an
        ``OptimWrapperDict``)."""
        wrapper = getattr(runner, 'optim_wrapper', None)
        if isinstance(wrapper, OptimWrapper):
            return [wrapper]
        if isinstance(wrapper, Mapping) or hasattr(wrapper, 'values'):
            return [w for w in wrapper.values() if isinstance(w, OptimWrapper)]
        return []

    def grad_norm_checked(self, runner):
        """Whether the gradient norm of this run is to be checked: when
        ``check_grad_norm``, some wrapper clips by norm (so it logs
        ``train/grad_norm``), and none is an ``AmpOptimWrapper``.

        Args:
            runner (Runner): The runner of the training process.

        Returns:
            bool: Whether to check ``train/grad_norm``.
        """
        if not self.check_grad_norm:
            return False
        wrappers = self._wrappers(runner)
        if any(isinstance(w, AmpOptimWrapper) for w in wrappers):
            return False
        return any(
            getattr(w, 'grad_name', None) == 'grad_norm'
            and getattr(w, 'clip_grad_kwargs', None) for w in wrappers)

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        """Raise when the loss, a loss term or the clipped gradient norm of
        this iteration is not finite.

        Args:
            runner (Runner): The runner of the training process.
            batch_idx (int): The index of the batch in the epoch.
            data_batch (dict | tuple | list, optional): The data batch.
            outputs (dict, optional): The model's ``train_step`` outputs
                (the loss and its terms).
        """
        if not self.enable:
            return
        self._last = (runner.iter + 1, runner.epoch + 1)
        losses = {}
        for key, value in (outputs or {}).items():
            if 'loss' in key:
                number = _as_float(value)
                if number is not None:
                    losses[key] = number
        grad_norm = None
        hub = runner.message_hub
        if self.grad_norm_checked(runner) and \
                'train/grad_norm' in hub.log_scalars:
            grad_norm = hub.get_scalar('train/grad_norm').current()
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        grad_bad = grad_norm is not None and not math.isfinite(grad_norm)
        if not bad and not grad_bad:
            return
        values = ', '.join(f'{k}={v:.6g}' for k, v in losses.items())
        if grad_norm is not None:
            values += f'{", " if values else ""}grad_norm={grad_norm:.6g}'
        if bad:
            what = f'non-finite {" and ".join(bad)}'
        else:
            what = 'non-finite gradient norm (gradient clipping is on)'
        if grad_bad and bad:
            what += ' and gradient norm'
        self._fail(
            runner, f'Training diverged {self._where(runner, batch_idx)}: '
            f'{what}: {values}. Lower the learning rate '
            '(optim_wrapper.optimizer.lr), lengthen the warm-up or clip '
            'gradients (optim_wrapper.clip_grad=dict(max_norm=...)).')

    # the weights ----------------------------------------------------------
    def _check_weights(self, runner, named_tensors, when):
        bad = nonfinite_tensors(named_tensors)
        if not bad:
            return
        shown = ', '.join(bad[:self.max_names])
        more = f' and {len(bad) - self.max_names} more' \
            if len(bad) > self.max_names else ''
        self._fail(
            runner, f'Training diverged {self._where(runner)}: {len(bad)} '
            f'tensor(s) of the model hold NaN/inf {when}: {shown}{more}. '
            'Lower the learning rate (optim_wrapper.optimizer.lr), '
            'lengthen the warm-up or clip gradients '
            '(optim_wrapper.clip_grad=dict(max_norm=...)).')

    def after_train_epoch(self, runner):
        """Raise when a parameter or buffer of the model is not finite at
        the end of an epoch, before the checkpoint hook saves it.

        Args:
            runner (Runner): The runner of the training process.
        """
        if not (self.enable and self.check_weights):
            return
        model = runner.model
        model = getattr(model, 'module', model)
        self._check_weights(runner,
                            model.state_dict().items(), 'after the epoch')

    def before_save_checkpoint(self, runner, checkpoint):
        """Refuse to write a checkpoint whose weights (``state_dict``, and
        ``ema_state_dict`` when an EMA hook keeps one) are not finite.

        Args:
            runner (Runner): The runner of the training process.
            checkpoint (dict): The checkpoint about to be written.
        """
        if not (self.enable and self.check_weights):
            return
        named = []
        for part in ('state_dict', 'ema_state_dict'):
            state = checkpoint.get(part) or {}
            named += [(f'{part}.{k}' if part != 'state_dict' else k, v)
                      for k, v in state.items()]
        self._check_weights(runner, named,
                            'in the checkpoint about to be saved')
