"""An eta that tells the truth from the first line on."""
import time

from mmengine.hooks import IterTimerHook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class WarmupIterTimerHook(IterTimerHook):
    """mmengine's :class:`~mmengine.hooks.IterTimerHook` whose training eta
    leaves out the first ``warmup_iters`` iterations of the run.

    The first iterations of a run are slow for reasons that do not repeat
    (data workers starting, memory allocation, ``torch.compile``: tens of
    seconds), and mmengine's eta averages over every iteration, so the first
    log lines of a run of a few minutes promised hours. Here no eta is
    shown until ``warmup_iters`` iterations are done, and then it is the
    mean time of the iterations after them times those left. Everything
    else (``time`` / ``data_time`` in the log, validation and test etas)
    is mmengine's.

    Args:
        warmup_iters (int): Iterations of each run (a resumed one included)
            left out of the eta. Defaults to 1.
    """

    def __init__(self, warmup_iters: int = 1):
        super().__init__()
        if warmup_iters < 0:
            raise ValueError(f'warmup_iters must be >= 0, got {warmup_iters}')
        self.warmup_iters = warmup_iters

    def _after_iter(self,
                    runner,
                    batch_idx: int,
                    data_batch=None,
                    outputs=None,
                    mode: str = 'train') -> None:
        if mode != 'train':
            return super()._after_iter(runner, batch_idx, data_batch, outputs,
                                       mode)
        hub = runner.message_hub
        hub.update_scalar('train/time', time.time() - self.t)
        self.t = time.time()
        done = runner.iter - self.start_iter + 1  # of this run, this one too
        if done <= self.warmup_iters:
            hub.pop_info('eta')  # also a stale one of a resumed checkpoint
            return
        self.time_sec_tot += hub.get_scalar('train/time').current()
        mean = self.time_sec_tot / (done - self.warmup_iters)
        hub.update_info('eta', mean * (runner.max_iters - runner.iter - 1))
