"""Official checkpoints recognised wherever a checkpoint is loaded.

The official MogaNet, FasterViT and DGMN2 checkpoints use their own key
names. Loaded as they are (``load_from``, ``init_cfg=dict(type='Pretrained')``,
``mmpretrain.get_model(..., pretrained=...)``, the inferencers,
``mogazoo.get_model``) mmengine would only log "missing keys" and go on with
a random network. :func:`mogazoo.checkpoint.load_checkpoint` (which every
one of those paths reaches, see :mod:`mogazoo.compat` for mmengine's
loaders) returns
:func:`convert_if_official`'s result: an official checkpoint converted in
memory by the same converter ``tools/model_converters`` runs (equal to
converting with the tool first), or an error that names the converter
command where that cannot be done. Official MogaNet detection (mmdet 2.x)
and segmentation (mmseg 0.x) checkpoints are converted too
(:mod:`.moganet_downstream`), and so are OpenMixup's MogaNet classifiers
(``backbone.blocks1.*`` with ``head.fc.*``, e.g. MogaNet-T*), by
:func:`~.moganet.convert_moganet` as ``moganet_to_mogazoo.py`` does;
official FasterViT and DGMN2 downstream checkpoints are refused (no
converter).
"""
import os.path as osp
import re
from collections import OrderedDict

from mmengine.logging import print_log

from ..keys import strip_module
from .common import select_state_dict
from .dgmn2 import convert_dgmn2
from .fastervit import convert_fastervit
from .moganet import (convert_moganet, detect_task, is_openmixup_moganet,
                      openmixup_ema_keys)
from .moganet_downstream import convert_moganet_downstream

#: family: (key pattern of the official layout, converter, tool script)
OFFICIAL_LAYOUTS = OrderedDict(
    MogaNet=(re.compile(r'^(patch_embed1\.projection|blocks1)\.'),
             convert_moganet, 'moganet_to_mogazoo.py'),
    FasterViT=(re.compile(r'^(patch_embed\.conv_down|levels\.\d+)\.'),
               convert_fastervit, 'fastervit_to_mogazoo.py'),
    DGMN2=(re.compile(r'^(patch_embed1\.conv1|block1)\.'), convert_dgmn2,
           'dgmn2_to_mogazoo.py'),
)
#: family: downstream (det / seg) tool scripts, by task; families not
#: listed have no converter for their official det / seg checkpoints
DOWNSTREAM_TOOLS = dict(
    MogaNet=dict(
        det='moganet_det_to_mogazoo.py', seg='moganet_seg_to_mogazoo.py'))


def tool_command(family: str, src: str = 'SRC', dst: str = 'DST') -> str:
    """The command line that converts an official ``family`` checkpoint."""
    script = OFFICIAL_LAYOUTS[family][2]
    return f'python tools/model_converters/{script} {src} {dst}'


def detect_official(state_dict) -> str:
    """The family whose official layout ``state_dict`` has, or ''.

    Args:
        state_dict (Mapping): A state dict (``module.`` prefixes allowed).
    """
    keys = list(strip_module(state_dict))
    for family, (pattern, _, _) in OFFICIAL_LAYOUTS.items():
        if any(pattern.match(k) for k in keys):
            return family
    return ''


def _state_dict_of(checkpoint):
    """The tensor dict a loaded checkpoint most likely holds, for
    detection only (the conversion itself picks as the tools do)."""
    if not isinstance(checkpoint, dict):
        return {}
    for key in ('state_dict', 'model', 'module', 'state_dict_ema'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def _converted(state_dict, source, script):
    """The checkpoint an in-memory conversion gives: what ``script`` writes
    without ``--ema``."""
    return dict(
        meta=dict(
            source=osp.basename(str(source)),
            ema=False,
            converter=script,
            converted_in_memory=True),
        state_dict=state_dict)


def _convert_downstream(checkpoint, family, source):
    """An official detection / segmentation checkpoint (``backbone.*`` in
    ``family``'s official layout), converted, or a RuntimeError."""
    state = _state_dict_of(checkpoint)
    tools = DOWNSTREAM_TOOLS.get(family)
    if tools is None:
        raise RuntimeError(
            f'{source} looks like an official {family} detection / '
            'segmentation checkpoint (backbone.* in the official '
            'layout); mogazoo has no converter for it. Start from the '
            f'ImageNet checkpoint converted with '
            f'{tool_command(family, source)}')
    task = detect_task(state)
    script = tools[task or 'det']
    what = dict(
        det='detection ',
        seg='segmentation ').get(task, 'detection / segmentation ')
    try:
        converted = convert_moganet_downstream(
            select_state_dict(checkpoint, source=source))
    except (KeyError, RuntimeError, ValueError) as exc:
        raise RuntimeError(
            f'{source} is an official {family} {what}checkpoint but cannot '
            f'be converted ({exc}); convert it with python '
            f'tools/model_converters/{script} {source} DST and check the '
            'output') from exc
    print_log(
        f'{source}: official {family} {what}checkpoint, converted in memory '
        f'({len(converted)} tensors) as '
        f'python tools/model_converters/{script} {source} DST would',
        logger='current')
    return _converted(converted, source, script)


def convert_if_official(checkpoint, source: str = 'checkpoint'):
    """Convert a loaded checkpoint in an official layout; return any other
    checkpoint unchanged.

    An official checkpoint (``state_dict`` / ``state_dict_ema`` / ``model``
    / ``module`` / bare, as the official repositories release them) becomes
    ``{'meta': {...}, 'state_dict': ...}`` exactly as the converter tool
    writes it without ``--ema`` (the ``state_dict`` weights), and one line
    is logged. An official MogaNet *detection or segmentation* checkpoint
    (``backbone.blocks1.*``, mmdet 2.x / mmseg 0.x heads) is converted the
    same way, as ``moganet_det_to_mogazoo.py`` / ``moganet_seg_to_mogazoo.py``
    would; official FasterViT / DGMN2 ones are refused: no converter exists
    for those. An OpenMixup MogaNet classifier (``backbone.blocks1.*`` and
    ``head.fc.*``, mmcv 1.x's ``{'meta', 'state_dict', 'optimizer'}``) is
    converted as ``moganet_to_mogazoo.py`` converts it (its ``ema_*``
    buffers dropped, as without ``--ema``).

    Args:
        checkpoint (object): What ``torch.load`` returned.
        source (str): The file or URL, for messages. Defaults to
            'checkpoint'.

    Raises:
        RuntimeError: An official checkpoint that cannot be converted; the
            message names the converter command.
    """
    state = _state_dict_of(checkpoint)
    family = detect_official(state)
    layout = f'the official {family} layout'
    what = f'official {family} checkpoint'
    if not family:
        str_keys = [k for k in state if isinstance(k, str)]
        if is_openmixup_moganet(OrderedDict.fromkeys(str_keys)):
            # backbone.blocks1.* and head.fc.*: MogaNet-T* and the other
            # OpenMixup releases; moganet_to_mogazoo.py reads them too
            family = 'MogaNet'
            layout = "OpenMixup's MogaNet classifier layout"
            what = 'OpenMixup MogaNet classifier checkpoint'
        else:
            inner = OrderedDict(
                (k[len('backbone.'):], v) for k, v in state.items()
                if isinstance(k, str) and k.startswith('backbone.'))
            downstream = detect_official(inner)
            if downstream:
                return _convert_downstream(checkpoint, downstream, source)
            return checkpoint
    _, convert, script = OFFICIAL_LAYOUTS[family]
    command = tool_command(family, source)
    try:
        converted = convert(select_state_dict(checkpoint, source=source))
    except (KeyError, RuntimeError, ValueError) as exc:
        raise RuntimeError(
            f'{source} is in {layout} but cannot be '
            f'converted ({exc}); convert it with {command} and check the '
            'output') from exc
    extra = ''
    if 'state_dict_ema' in checkpoint and 'state_dict' in checkpoint:
        extra = ' (it also holds state_dict_ema: convert with --ema to ' \
            'use the EMA weights)'
    elif openmixup_ema_keys(state):
        extra = ' (it also holds EMAHook buffers ema_*, dropped: convert ' \
            'with --ema to use the EMA weights)'
    print_log(
        f'{source}: {what}, converted in memory '
        f'({len(converted)} tensors) as {command} would{extra}',
        logger='current')
    return _converted(converted, source, script)
