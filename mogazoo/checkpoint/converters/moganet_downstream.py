"""Official MogaNet detection / segmentation checkpoints to mogazoo.

Westlake-AI/MogaNet trains its detectors with mmdet 2.x
(``detection/``: RetinaNet, Mask R-CNN, Cascade Mask R-CNN) and its
segmentors with mmseg 0.x (``segmentation/``: Semantic FPN, UperNet). Both
use one backbone, ``MogaNet_feat`` of ``models/moganet.py``: the ImageNet
classifier with ``fork_feat=True`` (every stage's ``norm{i}`` output is
returned and the classifier head is an ``nn.Identity``), so its keys are the
classifier's own under ``backbone.``, without ``head.*``.

- ``backbone.*`` is mapped by :func:`~.moganet.convert_moganet`, the
  ImageNet converter: ``patch_embed{i}`` -> ``patch_embeds.{i-1}``,
  ``blocks{i}`` -> ``stages.{i-1}``, ``norm{i}`` -> ``norms.{i-1}`` (the
  four output norms of ``out_indices=(0, 1, 2, 3)``), ``DW_conv`` /
  ``PW_conv`` -> ``dw_conv`` / ``pw_conv``, ``layer_scale_i`` ->
  ``layer_scale_i.scale``.
- The neck and heads keep their names: mmdet 3 and mmseg 1 did not rename a
  parameter of FPN, RetinaHead, RPNHead, StandardRoIHead / CascadeRoIHead
  (``Shared2FCBBoxHead``, ``ConvFCBBoxHead``, ``FCNMaskHead``), UPerHead,
  FPNHead or FCNHead between 2.x / 0.x and 3.x / 1.x (their model zoos still
  serve the 2.x / 0.x checkpoints). Only their top-level names are checked,
  per task, so that a checkpoint of another task or layout is refused
  instead of half-converted.

An OpenMixup MogaNet classifier has the same ``backbone.*`` but a
``head.fc.*`` and no det/seg heads: it is refused here and converted by
:func:`~.moganet.convert_moganet` (``moganet_to_mogazoo.py``).
"""
import re
from collections import OrderedDict

from ..keys import strip_module
from .moganet import convert_moganet, tasks_present

#: task: (description, top-level modules besides the backbone)
TASKS = OrderedDict(
    det=('detection (mmdet 2.x)', ('neck', 'bbox_head', 'rpn_head',
                                   'roi_head')),
    seg=('segmentation (mmseg 0.x)', ('neck', 'decode_head',
                                      'auxiliary_head')),
)
#: Keys of the official backbone inside a det / seg checkpoint.
OFFICIAL_BACKBONE = re.compile(
    r'^backbone\.(patch_embed1\.projection|blocks1)\.')


def is_official_moganet_downstream(state_dict) -> bool:
    """Whether ``state_dict`` holds an official MogaNet det/seg backbone
    (``backbone.blocks1.*``; ``module.`` prefixes allowed)."""
    return any(OFFICIAL_BACKBONE.match(k) for k in strip_module(state_dict))


def convert_moganet_downstream(state_dict, task=None):
    """Map an official MogaNet detection or segmentation state dict to the
    keys of mogazoo's mmdet 3 / mmseg 1 model of the same config.

    Args:
        state_dict (Mapping): The ``state_dict`` of the official mmdet 2.x /
            mmseg 0.x checkpoint (``module.`` prefixes allowed).
        task (str, optional): ``'det'`` or ``'seg'``; None takes it from
            the heads the state dict holds (one without heads has its
            backbone and neck converted). Defaults to None.

    Returns:
        OrderedDict: ``backbone.*`` in mogazoo's names, the neck and heads
        as they are.

    Raises:
        ValueError: not an official MogaNet det/seg state dict, a state
            dict of the other task, or keys of neither backbone, neck nor
            the task's heads.
    """
    state_dict = strip_module(state_dict)
    present = tasks_present(state_dict)
    if len(present) > 1:
        raise ValueError('The state dict has both detection and '
                         'segmentation heads (bbox_head / rpn_head / '
                         'roi_head and decode_head / auxiliary_head)')
    found = present[0] if present else ''
    if task is None:
        # no head at all: a backbone (and neck) only
        task = found or 'backbone'
    if task not in TASKS and task != 'backbone':
        raise ValueError(f'task must be one of {list(TASKS)}, got {task!r}')
    what, modules = TASKS.get(task, ('backbone', ('neck', )))
    if found and found != task:
        raise ValueError(
            f'This is an official {TASKS[found][0]} checkpoint, not a '
            f'{what} one; use moganet_{found}_to_mogazoo.py')
    if not is_official_moganet_downstream(state_dict):
        if any(k.startswith('backbone.patch_embeds.') for k in state_dict):
            raise ValueError('The backbone is already in mogazoo\'s layout '
                             '(backbone.patch_embeds.*): nothing to convert')
        raise ValueError(
            'No official MogaNet backbone (backbone.blocks1.*, '
            'backbone.patch_embed1.projection.*) found; is this an official '
            f'MogaNet {what} checkpoint?')
    backbone = OrderedDict()
    rest = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        top = key.split('.', 1)[0]
        if top == 'backbone':
            backbone[key[len('backbone.'):]] = value
        elif top in modules:
            rest[key] = value
        else:
            unknown.append(key)
    heads = [k for k in backbone if k.startswith('head.')]
    if heads:
        # MogaNet_feat has an nn.Identity head; a classifier head here
        # would be silently mapped to head.fc.* by the ImageNet rules
        unknown.extend('backbone.' + k for k in heads)
    if not found and any(k.startswith('head.') for k in unknown):
        raise ValueError(
            'backbone.* with a classifier head.* is an OpenMMLab-layout '
            'MogaNet classifier (e.g. an OpenMixup checkpoint), not a '
            'detection / segmentation checkpoint; convert it with '
            'moganet_to_mogazoo.py')
    if unknown:
        raise ValueError(
            f'{len(unknown)} keys are neither the MogaNet backbone nor a '
            f'{what} module ({", ".join(modules)}), e.g. {unknown[:5]}')
    out = convert_moganet(backbone)  # keys: backbone.*
    out.update(rest)
    return out


def convert_moganet_det(state_dict):
    """:func:`convert_moganet_downstream` for detection (mmdet 2.x)
    checkpoints: RetinaNet, Mask R-CNN, Cascade Mask R-CNN."""
    return convert_moganet_downstream(state_dict, 'det')


def convert_moganet_seg(state_dict):
    """:func:`convert_moganet_downstream` for segmentation (mmseg 0.x)
    checkpoints: Semantic FPN, UperNet."""
    return convert_moganet_downstream(state_dict, 'seg')
