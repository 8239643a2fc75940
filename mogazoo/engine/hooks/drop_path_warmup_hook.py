"""Stochastic depth warm-up (the official DGMN2 ``main.py``)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DropPathWarmupHook(Hook):
    """Train without stochastic depth for the first ``warmup_epochs`` epochs,
    then with the backbone's configured rate, as the official DGMN2
    ``main.py`` does (``reset_drop_path(0.0)`` until epoch 100).

    Works with any backbone that has ``drop_path_rate`` and
    ``set_drop_path_rate(rate)``.

    Args:
        warmup_epochs (int): Epochs without drop path. Defaults to 100.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_epochs=100):
        self.warmup_epochs = warmup_epochs
        self._rate = None

    def before_train_epoch(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        backbone = model.backbone
        if self._rate is None:
            self._rate = backbone.drop_path_rate
        rate = 0. if runner.epoch < self.warmup_epochs else self._rate
        if rate != backbone.drop_path_rate:
            backbone.set_drop_path_rate(rate)
