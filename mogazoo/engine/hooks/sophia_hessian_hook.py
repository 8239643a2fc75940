"""The Hessian refresh of the Sophia optimizer as an mmengine hook."""
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SophiaHessianHook(Hook):
    """Refresh the Hessian estimate of :class:`mogazoo.engine.SophiaG`
    every ``interval`` training iterations, as the authors' training loop
    does.

    After the optimizer step of every ``interval``-th iteration the hook runs
    the model once more on the same batch (preprocessed without batch
    augments such as Mixup), samples one label per image from the model's
    softmax, back-propagates the cross-entropy against those labels and
    calls ``optimizer.update_hessian()``, then clears the gradients.

    The model stays in training mode for that pass, as in the authors' code
    (dropout and BatchNorm behave as in the training pass; BatchNorm running
    statistics see the batch a second time). The pass goes through the model
    wrapper, so under DDP the estimate is averaged over processes. It needs
    an optimizer wrapper that steps every iteration
    (``accumulative_counts=1``) and a model whose ``mode='tensor'`` forward
    returns the logits (mmpretrain classifiers do).

    Args:
        interval (int): Iterations between refreshes (``k`` in the paper).
            Defaults to 10.
    """
    priority = 'NORMAL'

    def __init__(self, interval=10):
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    def before_train(self, runner):
        optimizer = runner.optim_wrapper.optimizer
        if not callable(getattr(optimizer, 'update_hessian', None)):
            raise TypeError(
                'SophiaHessianHook needs an optimizer with update_hessian() '
                f'(type=\'SophiaG\'), got {type(optimizer).__name__}')
        counts = getattr(runner.optim_wrapper, '_accumulative_counts', 1)
        if counts != 1:
            raise ValueError('SophiaHessianHook needs accumulative_counts=1, '
                             f'got {counts}')

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if not self.every_n_train_iters(runner, self.interval):
            return
        model = runner.model
        module = model.module if is_model_wrapper(model) else model
        optimizer = runner.optim_wrapper.optimizer
        data = module.data_preprocessor(data_batch, training=False)
        logits = model(data['inputs'], mode='tensor')
        if not (isinstance(logits, torch.Tensor) and logits.dim() == 2):
            raise TypeError('SophiaHessianHook needs (N, num_classes) logits'
                            ' from the mode="tensor" forward, got '
                            f'{type(logits).__name__}')
        logits = logits.float()
        with torch.no_grad():
            labels = torch.distributions.Categorical(logits=logits).sample()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(logits, labels).backward()
        optimizer.update_hessian()
        optimizer.zero_grad(set_to_none=True)
