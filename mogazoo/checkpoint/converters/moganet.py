"""Official MogaNet keys to mogazoo keys.

Two released layouts hold the same network:

- the MogaNet repository's (Westlake-AI/MogaNet, timm): ``patch_embed{i}``,
  ``blocks{i}``, ``norm{i}`` and ``head`` at the top level;
- OpenMixup's (Westlake-AI/openmixup, mmcv 1.x), in which MogaNet-T* and
  the other ``openmixup/releases/.../moganet-in1k-weights`` files were
  trained: a ``MixUpClassification`` / ``Classification`` model whose
  ``backbone`` (``openmixup/models/backbones/moganet.py``) names its modules
  as the MogaNet repository does (``patch_embed{i}.projection`` /
  ``.norm``, ``blocks{i}.{j}`` with ``attn.value.DW_conv{k}`` /
  ``PW_conv``, ``layer_scale_{1,2}`` parameters, four BN output norms
  ``norm1..4``) and whose ``ClsHead`` / ``ClsMixupHead`` holds one
  ``fc = nn.Linear``: ``backbone.*`` and ``head.fc.{weight,bias}``. A run
  with OpenMixup's ``EMAHook`` adds one ``ema_<name with . as _>`` buffer
  per parameter at the top level.

:func:`convert_moganet` reads both; :func:`convert_moganet_openmixup` is
the second alone.
"""
import re
from collections import OrderedDict

from ..keys import rename_keys, strip_module

_RULES = [
    # stem: patch_embed1.projection.{0..4} -> patch_embeds.0.{0..4}
    (r'^patch_embed1\.projection\.', 'backbone.patch_embeds.0.'),
    # down-sampling: conv and norm of patch_embed{i}
    (r'^patch_embed(\d)\.projection\.',
     lambda m: f'backbone.patch_embeds.{int(m[1]) - 1}.0.'),
    (r'^patch_embed(\d)\.norm\.',
     lambda m: f'backbone.patch_embeds.{int(m[1]) - 1}.1.'),
    (r'^blocks(\d)\.', lambda m: f'backbone.stages.{int(m[1]) - 1}.'),
    (r'^norm(\d)\.', lambda m: f'backbone.norms.{int(m[1]) - 1}.'),
    (r'^head\.', 'head.fc.'),
]
_INNER = [
    (r'\.attn\.value\.DW_conv(\d)\.', r'.attn.value.dw_conv\1.'),
    (r'\.attn\.value\.PW_conv\.', '.attn.value.pw_conv.'),
    (r'\.layer_scale_(\d)$', r'.layer_scale_\1.scale'),
]

#: The official backbone under ``backbone.``: OpenMixup classifiers, and
#: the MogaNet repository's detection / segmentation checkpoints.
OPENMIXUP_BACKBONE = re.compile(
    r'^backbone\.(patch_embed1\.projection|blocks1)\.')
#: OpenMixup's classification heads (``ClsHead``, ``ClsMixupHead``): one
#: ``nn.Linear`` named ``fc``; kept as mogazoo's ``head.fc``.
OPENMIXUP_HEAD = ('head.fc.weight', 'head.fc.bias')
#: Buffers OpenMixup's ``EMAHook`` registers on the model, one per
#: parameter: ``ema_`` + the parameter's name with ``.`` as ``_``.
OPENMIXUP_EMA_PREFIX = 'ema_'

#: Heads that only one task has: they tell an official detection (mmdet
#: 2.x) from a segmentation (mmseg 0.x) checkpoint.
TASK_MARKERS = OrderedDict(
    det=re.compile(r'^(bbox_head|rpn_head|roi_head)\.'),
    seg=re.compile(r'^(decode_head|auxiliary_head)\.'),
)


def tasks_present(keys):
    """The tasks (``'det'``, ``'seg'``) whose heads ``keys`` hold."""
    return [
        task for task, marker in TASK_MARKERS.items() if any(
            marker.match(k) for k in keys)
    ]


def detect_task(state_dict) -> str:
    """``'det'`` or ``'seg'`` from the heads of a det/seg state dict, or
    ``''`` when it has neither kind (or both)."""
    found = tasks_present(strip_module(state_dict))
    return found[0] if len(found) == 1 else ''


def _map_official(state_dict, prefix=''):
    """Official (MogaNet repository) names -> mogazoo names; ``prefix`` is
    how the keys were named in the input, for messages."""
    out = rename_keys(
        state_dict, _RULES, 'MogaNet', inner=_INNER, prefix=prefix)
    if not any(k.startswith('backbone.stages.') for k in out):
        raise ValueError(f'No MogaNet block weights ({prefix}blocks1.*) '
                         'found')
    return out


def is_openmixup_moganet(state_dict) -> bool:
    """Whether ``state_dict`` is an OpenMixup MogaNet classifier: the
    official backbone under ``backbone.`` (``backbone.blocks1.*``) and a
    classification head ``head.*`` (``module.`` prefixes allowed).

    Detection / segmentation checkpoints of the MogaNet repository share
    the backbone but have no ``head.*`` (their heads are ``bbox_head``,
    ``decode_head`` ...).
    """
    keys = list(strip_module(state_dict))
    return any(OPENMIXUP_BACKBONE.match(k) for k in keys) and \
        any(k.startswith('head.') for k in keys)


def openmixup_ema_keys(state_dict):
    """The ``ema_*`` buffers of OpenMixup's ``EMAHook`` in a state dict."""
    return [
        k for k in strip_module(state_dict)
        if k.startswith(OPENMIXUP_EMA_PREFIX)
    ]


def convert_moganet_openmixup(state_dict):
    """Map an OpenMixup MogaNet classifier's state dict to mogazoo's
    ``ImageClassifier`` keys.

    ``backbone.*`` is mapped by the MogaNet repository's rules (its names
    are the same), ``head.fc.weight`` / ``head.fc.bias`` are kept (mogazoo's
    ``LinearClsHead`` names its layer ``fc`` too). The ``ema_*`` buffers of
    OpenMixup's ``EMAHook`` are dropped: the result is the model's
    parameters, the weights OpenMixup's own test loads (with ``--ema``,
    :func:`~.common.select_state_dict` swaps the EMA values in first, as
    OpenMixup's ``publish_model.py --swap_ema`` does).

    Raises:
        ValueError: keys of neither the backbone nor ``head.fc`` (another
            head, a mixup block, a momentum encoder, a det/seg module, a
            MIM mask token ...), or no official MogaNet backbone.
    """
    state_dict = strip_module(state_dict)
    backbone = OrderedDict()
    head = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        if key.startswith('backbone.') and \
                not key.startswith('backbone.head.'):
            backbone[key[len('backbone.'):]] = value
        elif key in OPENMIXUP_HEAD:
            head[key] = value
        elif not key.startswith(OPENMIXUP_EMA_PREFIX):
            unknown.append(key)
    if unknown:
        hint = dict(
            det='; it looks like a detection checkpoint: use '
            'moganet_det_to_mogazoo.py',
            seg='; it looks like a segmentation checkpoint: use '
            'moganet_seg_to_mogazoo.py').get(detect_task(state_dict), '')
        raise ValueError(
            f'{len(unknown)} keys are neither the MogaNet backbone '
            '(backbone.*) nor the linear head (head.fc.weight, '
            'head.fc.bias) of an OpenMixup MogaNet classifier, e.g. '
            f'{unknown[:5]}{hint}')
    if not any(OPENMIXUP_BACKBONE.match('backbone.' + k) for k in backbone):
        raise ValueError(
            'No official MogaNet backbone (backbone.blocks1.*, '
            'backbone.patch_embed1.projection.*) found; is this an '
            'OpenMixup MogaNet checkpoint?')
    out = _map_official(backbone, prefix='backbone.')
    out.update(head)
    return out


def convert_moganet(state_dict):
    """Map an official MogaNet state dict to mogazoo's ``ImageClassifier``
    keys (``backbone.*`` and ``head.fc.*``).

    Reads the MogaNet repository's layout (``blocks1.*``, ``head.*``) and
    OpenMixup's (``backbone.blocks1.*``, ``head.fc.*``: see
    :func:`convert_moganet_openmixup`), told apart by their keys.

    Raises:
        ValueError: if a key is not part of an official MogaNet, or the dict
            holds no MogaNet keys at all.
    """
    if any(OPENMIXUP_BACKBONE.match(k) for k in strip_module(state_dict)):
        return convert_moganet_openmixup(state_dict)
    return _map_official(state_dict)
