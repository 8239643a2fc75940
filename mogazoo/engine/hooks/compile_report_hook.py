"""One line on whether ``--compile`` pays off in this run."""
import time

import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mogazoo.models.utils.compile import break_even, uncompiled


def _now():
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def compile_report(first, compiled, eager, max_iters):
    """The line :class:`CompileReportHook` logs: ``first`` seconds of the
    first (compiling) iteration, ``compiled`` and ``eager`` seconds per
    iteration after it (``eager`` None when not measured), ``max_iters`` of
    the run."""
    warmup = max(0., first - compiled)
    head = (f'torch.compile: warm-up {warmup:.1f} s (first iteration '
            f'{first:.1f} s, then {compiled:.3g} s/iter')
    if eager is None:
        return head + '; eager not timed)'
    head += f' vs {eager:.3g} s/iter eager)'
    n = break_even(warmup, compiled, eager)
    if n is None:
        return (head + ': never pays off, the compiled step is not faster; '
                'drop --compile')
    verdict = 'worth it' if n < max_iters else 'drop --compile'
    return (f'{head}: pays off after {n:.0f} iterations, this run has '
            f'{max_iters} ({verdict})')


@HOOKS.register_module()
class CompileReportHook(Hook):
    """With a compiled model (``--compile``): time the first training
    iteration (where ``torch.compile`` compiles), the next ``iters`` ones,
    then one eager step (forward and backward) on the last batch, and log
    the warm-up and the break-even in one line (:func:`compile_report`).

    The eager step is a measurement only: the model's buffers (e.g.
    BatchNorm statistics), its gradients and the random number generators
    are restored after it, so the run goes on exactly as without it; it adds
    one eager step's time to that iteration. It runs on the unwrapped model
    (no gradient all-reduce under DDP). A run shorter than ``iters + 1``
    iterations is timed on those it has; with ``iters=0`` (or one
    iteration) only the first iteration is reported.

    Args:
        iters (int): Compiled iterations timed after the first. Defaults
            to 3.
    """

    priority = 'LOW'

    def __init__(self, iters=3):
        self.iters = iters
        self.times = []
        self._t = None
        self.reported = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.reported is None:
            self._t = _now()

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if self.reported is not None or self._t is None:
            return
        self.times.append(_now() - self._t)
        short = runner.max_iters - runner.iter - 1 < 1  # the last iteration
        if len(self.times) < self.iters + 1 and not short:
            return
        first = self.times[0]
        later = sorted(self.times[1:])
        if not later:
            self.reported = f'torch.compile: first iteration {first:.1f} s ' \
                '(the compile); too few iterations to time the rest'
        else:
            compiled = later[len(later) // 2]
            eager = self.eager_step(runner, data_batch)
            self.reported = compile_report(first, compiled, eager,
                                           runner.max_iters)
        runner.logger.info(self.reported)

    def eager_step(self, runner, data_batch):
        model = getattr(runner.model, 'module', runner.model)
        params = [p for p in model.parameters() if p.requires_grad]
        grads = [p.grad for p in params]
        buffers = {k: v.clone() for k, v in model.named_buffers()}
        rng = torch.get_rng_state()
        cuda_rng = (
            torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() else None)
        try:
            with uncompiled(model):
                t = _now()
                for p in params:
                    p.grad = None
                data = model.data_preprocessor(data_batch, True)
                losses = model(**data, mode='loss')
                loss, _ = model.parse_losses(losses)
                loss.backward()
                return _now() - t
        finally:
            for p, g in zip(params, grads):
                p.grad = g
            with torch.no_grad():
                for k, v in model.named_buffers():
                    v.copy_(buffers[k])
            torch.set_rng_state(rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state_all(cuda_rng)
