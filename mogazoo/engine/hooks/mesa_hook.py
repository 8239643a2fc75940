"""MESA: the EMA model as a teacher (the official FasterViT ``train.py``)."""
import torch
import torch.nn.functional as F
from mmengine.hooks import EMAHook, Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop


def mesa_loss(logits, teacher_logits, temperature=3.0, kl_scale=50.0):
    """``kl_scale * KL(softmax(teacher / T) || softmax(logits / T))``,
    averaged over the batch (``KLDivLoss(reduction='batchmean')``), in fp32.
    """
    log_p = F.log_softmax(logits.float() / temperature, dim=1)
    q = F.softmax(teacher_logits.float() / temperature, dim=1)
    return kl_scale * F.kl_div(log_p, q, reduction='batchmean')


@HOOKS.register_module()
class MESAHook(Hook):
    """MESA (Du et al., "Sharpness-Aware Training for Free", NeurIPS 2022)
    as NVlabs' FasterViT trains with it (``fastervit/train.py``,
    ``--mesa``/``--mesa-start-ratio``): once ``start_ratio`` of the training
    has passed, the loss gains

        ``weight * kl_scale * KL(softmax(t / T) || softmax(s / T))``

    (``loss_mesa``), where ``s`` are the model's logits and ``t`` those of
    the EMA model, in eval mode and without gradients, on the same batch
    (after the data preprocessor and its batch augments, e.g. Mixup/CutMix,
    as the official code feeds the mixed input to both).

    The teacher is the averaged model of mmengine's ``EMAHook``, which the
    config must also list. The hook wraps the classifier's ``loss`` and
    reads the student's logits from a forward hook on its ``head``, so the
    student runs once; nothing is added to the model's ``state_dict`` and
    validation/testing are untouched. Works with mmpretrain classifiers
    (``loss(inputs, data_samples)``, ``forward(..., mode='tensor')`` giving
    logits) and with DDP-wrapped models.

    Args:
        weight (float): MESA weight (official ``--mesa``: 0.1 for
            FasterViT-0, 0.2 for 1, 0.5 for 2 and 3, 5.0 for 4-6).
        start_ratio (float): MESA is on when the progress, the 0-based
            ``epoch / max_epochs`` of an epoch-based loop (``iter /
            max_iters`` otherwise), exceeds this (official
            ``--mesa-start-ratio``). Defaults to 0.25.
        temperature (float): Softmax temperature T. Defaults to 3.0 (the
            official ``kdloss``).
        kl_scale (float): Factor on the KL divergence. Defaults to 50.0
            (the official ``kdloss``).
    """

    priority = 'NORMAL'

    def __init__(self,
                 weight: float,
                 start_ratio: float = 0.25,
                 temperature: float = 3.0,
                 kl_scale: float = 50.0):
        if not weight > 0:
            raise ValueError(f'MESAHook weight must be > 0, got {weight!r}')
        if not 0 <= start_ratio < 1:
            raise ValueError('MESAHook start_ratio must be in [0, 1), got '
                             f'{start_ratio!r}')
        if not temperature > 0:
            raise ValueError('MESAHook temperature must be > 0, got '
                             f'{temperature!r}')
        self.weight = float(weight)
        self.start_ratio = float(start_ratio)
        self.temperature = float(temperature)
        self.kl_scale = float(kl_scale)
        self.active = False
        self._ema_hook = None
        self._model = None
        self._handle = None
        self._logits = None

    # ------------------------------------------------------------ set-up
    def before_train(self, runner) -> None:
        ema = [h for h in runner.hooks if isinstance(h, EMAHook)]
        if not ema:
            raise RuntimeError(
                'MESAHook needs an EMAHook in custom_hooks: its teacher is '
                "the EMA model (add dict(type='EMAHook', ...))")
        self._ema_hook = ema[0]
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, 'head', None)
        if head is None or not callable(getattr(model, 'loss', None)):
            raise TypeError('MESAHook needs a classifier with a `head` and '
                            f'a `loss` method, got {type(model).__name__}')
        self._model = model
        self._handle = head.register_forward_hook(self._capture)
        student_loss = model.loss

        def loss(inputs, data_samples, *args, **kwargs):
            self._logits = None
            losses = student_loss(inputs, data_samples, *args, **kwargs)
            if self.active:
                losses['loss_mesa'] = self.weight * self._mesa(inputs)
            self._logits = None
            return losses

        model.loss = loss  # instance attribute: shadows the method

    def _capture(self, module, args, output):
        if torch.is_tensor(output):
            self._logits = output

    def _mesa(self, inputs):
        if self._logits is None:
            raise RuntimeError(
                'MESAHook did not see the logits of the head during the '
                'loss: the head must compute them with its forward')
        teacher = self._ema_hook.ema_model.module
        training = teacher.training
        teacher.eval()
        with torch.no_grad():
            teacher_logits = teacher(inputs, mode='tensor')
        teacher.train(training)
        return mesa_loss(self._logits, teacher_logits, self.temperature,
                         self.kl_scale)

    # -------------------------------------------------------------- state
    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            progress = runner.epoch / runner.max_epochs
        else:
            progress = runner.iter / runner.max_iters
        self.active = progress > self.start_ratio

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        if self._model is not None and 'loss' in vars(self._model):
            del self._model.loss  # the class's method again
        self._model = None
        self.active = False
