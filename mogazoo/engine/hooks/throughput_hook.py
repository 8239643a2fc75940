"""A hook that logs training throughput and peak memory."""
import time

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mogazoo.utils.benchmark import peak_memory_mb


@HOOKS.register_module()
class ThroughputHook(Hook):
    """Log images/s and peak memory through the message hub.

    Every training iteration updates ``train/images_per_sec`` (averaged over
    the iterations since the last logging boundary, over all processes) and
    ``train/peak_mem_mb``, so that mmengine's ``LoggerHook`` prints and
    stores them with the loss at each logging interval.

    Args:
        interval (int, optional): Window of the average, in iterations.
            Defaults to the ``LoggerHook`` interval of the runner.
    """
    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL)

    def __init__(self, interval=None):
        self.interval = interval

    def before_train(self, runner):
        if self.interval is None:
            logger = runner.cfg.get('default_hooks', {}).get('logger', {})
            self.interval = logger.get('interval', 50) if logger else 50
        self._reset()

    def _reset(self):
        self._images = 0
        self._t0 = time.perf_counter()

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self._images == 0:
            self._t0 = time.perf_counter()

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        inputs = data_batch.get('inputs') if isinstance(data_batch,
                                                        dict) else None
        self._images += len(inputs) if inputs is not None else 0
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        hub = runner.message_hub
        hub.update_scalar('train/images_per_sec',
                          self._images * get_world_size() / elapsed)
        hub.update_scalar('train/peak_mem_mb', peak_memory_mb())
        if self.every_n_train_iters(runner, self.interval):
            self._reset()
