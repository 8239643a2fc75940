"""DeiT-style knowledge distillation through the classifier's own head."""
import copy
from typing import List, Union

import torch
import torch.nn.functional as F
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mogazoo.checkpoint import load_state_dict
from mogazoo.utils import check_file_exists, load_config

DISTILL_TYPES = ('soft', 'hard', 'none')


def distillation_loss(student_logits: torch.Tensor,
                      teacher_logits: torch.Tensor,
                      distill_type: str,
                      tau: float = 1.0) -> torch.Tensor:
    """The distillation term of `DeiT <https://arxiv.org/abs/2012.12877>`_.

    - ``'hard'``: cross-entropy of the student against the teacher's
      arg-max labels.
    - ``'soft'``: ``KL(softmax(t / tau) || softmax(s / tau)) * tau**2``,
      summed and divided by the number of logits (batch x classes), exactly
      as DeiT's ``DistillationLoss``.

    Args:
        student_logits (Tensor): ``(N, C)`` student logits.
        teacher_logits (Tensor): ``(N, C)`` teacher logits.
        distill_type (str): ``'soft'`` or ``'hard'``.
        tau (float): Temperature of the soft distillation. Defaults to 1.

    Returns:
        Tensor: The scalar loss.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f'Student logits {tuple(student_logits.shape)} and teacher '
            f'logits {tuple(teacher_logits.shape)} differ: the teacher must '
            'classify the same classes')
    student_logits = student_logits.float()
    teacher_logits = teacher_logits.float()
    if distill_type == 'hard':
        return F.cross_entropy(student_logits, teacher_logits.argmax(dim=1))
    if distill_type == 'soft':
        return F.kl_div(
            F.log_softmax(student_logits / tau, dim=1),
            F.log_softmax(teacher_logits / tau, dim=1),
            reduction='sum',
            log_target=True) * (tau * tau) / student_logits.numel()
    raise ValueError(f'distill_type must be soft or hard, got {distill_type}')


@MODELS.register_module()
class DistillImageClassifier(ImageClassifier):
    """An :class:`mmpretrain.models.ImageClassifier` (the student) trained
    with DeiT's soft or hard distillation from a frozen teacher.

    DeiT distils through a separate distillation token and head, which only
    a ViT has; here the distillation target is put on the student's single
    head, DeiT's "hard distillation without token" variant (and its soft
    counterpart). The loss is::

        (1 - alpha) * loss_cls(student, labels)
            + alpha * distillation_loss(student, teacher, distill_type, tau)

    logged as ``loss_cls`` and ``loss_distill``. The teacher sees the
    student's preprocessed inputs (the same normalisation and size; its own
    data preprocessor is not used), runs in eval mode without gradients and
    is no submodule: it is not trained, not in the optimizer and not saved
    in the student's checkpoints, which load into the plain
    ``ImageClassifier``. It is built and loaded by :meth:`init_weights`
    (which the runner calls before training) or at the first loss, so
    building the model for inference needs no teacher.

    Args:
        teacher (str | dict): A config file whose ``model`` is the teacher,
            or the teacher's model dict (e.g. an ``ImageClassifier``).
        teacher_checkpoint (str): The teacher's weights (an mmengine
            checkpoint, e.g. a converted official one or a training
            run's), loaded strictly.
        distill_type (str): ``'hard'``, ``'soft'`` or ``'none'`` (plain
            training of the student, for comparison). Defaults to ``'hard'``.
        alpha (float): Weight of the distillation term, in [0, 1].
            Defaults to 0.5.
        tau (float): Temperature of the soft distillation. Defaults to 1.0.
        **kwargs: The student's :class:`ImageClassifier` arguments
            (``backbone``, ``neck``, ``head``, ``train_cfg``,
            ``data_preprocessor``, ``init_cfg``).
    """

    def __init__(self,
                 teacher: Union[str, dict],
                 teacher_checkpoint: str,
                 distill_type: str = 'hard',
                 alpha: float = 0.5,
                 tau: float = 1.0,
                 **kwargs):
        super().__init__(**kwargs)
        if distill_type not in DISTILL_TYPES:
            raise ValueError(f'distill_type must be one of {DISTILL_TYPES}, '
                             f'got {distill_type!r}')
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if not tau > 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        if not isinstance(teacher, (str, dict)):
            raise TypeError('teacher must be a config file or a model dict, '
                            f'got {type(teacher).__name__}')
        self.teacher_cfg = teacher
        self.teacher_checkpoint = teacher_checkpoint
        self.distill_type = distill_type
        self.alpha = alpha
        self.tau = tau
        self._set_teacher(None)

    def _set_teacher(self, teacher):
        # Kept out of nn.Module's registry: not a submodule, so not trained,
        # not moved by DDP, not in state_dict().
        object.__setattr__(self, '_teacher', teacher)

    @property
    def teacher(self) -> torch.nn.Module:
        """The frozen teacher, built and loaded at first use."""
        if self._teacher is None:
            self._set_teacher(self.build_teacher())
        return self._teacher

    def build_teacher(self) -> torch.nn.Module:
        """Build the teacher from ``teacher``, load ``teacher_checkpoint``,
        freeze it and put it in eval mode on the student's device."""
        cfg = self.teacher_cfg
        if isinstance(cfg, str):
            check_file_exists(cfg, 'Teacher config')
            cfg = load_config(cfg).model
        if not self.teacher_checkpoint:
            raise ValueError('DistillImageClassifier needs teacher_checkpoint')
        check_file_exists(self.teacher_checkpoint, 'Teacher checkpoint')
        teacher = MODELS.build(copy.deepcopy(cfg))
        load_state_dict(
            teacher,
            self.teacher_checkpoint,
            'strict',
            target='the teacher of DistillImageClassifier')
        teacher.requires_grad_(False)
        device = next(self.parameters()).device
        return teacher.eval().to(device)

    def init_weights(self):
        """Initialise the student and load the teacher."""
        super().init_weights()
        if self.distill_type != 'none':
            self.teacher  # noqa: B018 - builds and loads it

    @torch.no_grad()
    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The teacher's logits for the student's preprocessed inputs."""
        teacher = self.teacher
        if next(teacher.parameters()).device != inputs.device:
            teacher.to(inputs.device)
        teacher.eval()
        return teacher(inputs, mode='tensor')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Student loss on the labels plus the distillation term.

        Args:
            inputs (Tensor): Preprocessed images, ``(N, C, H, W)``.
            data_samples (list[DataSample]): Their labels.

        Returns:
            dict[str, Tensor]: ``loss_cls`` and ``loss_distill`` (weighted
            by ``1 - alpha`` and ``alpha``), and the head's accuracy if it
            computes one.
        """
        cls_score = self.head(self.extract_feat(inputs))
        losses = self.head._get_loss(cls_score, data_samples)
        if self.distill_type == 'none':
            return losses
        weight = 1 - self.alpha
        out = {
            ('loss_cls' if k == 'loss' else k):
            v * weight if 'loss' in k else v
            for k, v in losses.items()
        }
        out['loss_distill'] = self.alpha * distillation_loss(
            cls_score, self.teacher_logits(inputs), self.distill_type,
            self.tau)
        return out
