"""Does a checkpoint fit a model? A short answer instead of mmengine's
hundreds of "size mismatch" / "missing keys" log lines.

:func:`compare_state_dicts` lists what differs, :func:`mismatch_summary`
turns that into one paragraph with the likely cause (another arch, another
family, another class count) and :func:`check_fit` raises
:class:`CheckpointMismatchError` with it under one of three rules:

- ``'strict'``: evaluation and resuming. Every tensor of the model must be
  in the checkpoint with its shape, and nothing else may be there.
- ``'finetune'``: ``load_from`` in training. The backbone must fit; tensors
  outside it (a head with another class count, a new neck) that do not fit
  are dropped from the checkpoint and keep their fresh initialisation, with
  one warning line.
- ``'backbone'``: a backbone's ``init_cfg=dict(type='Pretrained')``. Every
  tensor of the checkpoint the backbone has must fit; output norms the
  checkpoint lacks (``norms.i`` of the extra ``out_indices`` of a detection
  backbone) keep their initialisation.
"""
import logging
import re
from collections import OrderedDict
from typing import Dict, Mapping

from mmengine.logging import print_log

from .keys import strip_module

#: Key fragments that give a mogazoo family away.
FAMILY_MARKERS = OrderedDict(
    MogaNet=re.compile(r'\.attn\.value\.(dw|pw)_conv'),
    FasterViT=re.compile(r'\.(hat_attn|global_tokenizer|pos_emb_funct)\.'),
    DGMN2=re.compile(r'\.attn\.conv_offset\.'),
)
RULES = ('strict', 'finetune', 'backbone')
#: FasterViT's carrier-token layers, which depend on the input size the
#: official model was built for.
FASTERVIT_CARRIER = re.compile(
    r'\.(hat_\w+|global_tokenizer)\.|\.blocks\.\d+\.gamma[12]$')
SHOWN = 3  # names shown per kind of difference


class CheckpointMismatchError(RuntimeError):
    """A checkpoint that does not fit the model it is loaded into."""


def guess_family(keys) -> str:
    """The mogazoo family whose key names ``keys`` hold, or ''."""
    for name, marker in FAMILY_MARKERS.items():
        if any(marker.search(k) for k in keys):
            return name
    return ''


def compare_state_dicts(model_state: Mapping, ckpt_state: Mapping) -> Dict:
    """What differs between a model's and a checkpoint's state dicts.

    Args:
        model_state (Mapping): ``model.state_dict()``.
        ckpt_state (Mapping): The checkpoint's state dict (``module.``
            prefixes already stripped).

    Returns:
        dict: ``missing`` (model keys absent from the checkpoint),
        ``unexpected`` (checkpoint keys the model lacks), ``mismatched``
        (``(key, checkpoint shape, model shape)``), ``matched`` (how many
        keys fit) and ``total`` (how many the model has).
    """
    missing, mismatched, matched = [], [], 0
    for key, value in model_state.items():
        if key not in ckpt_state:
            missing.append(key)
        elif tuple(ckpt_state[key].shape) != tuple(value.shape):
            mismatched.append(
                (key, tuple(ckpt_state[key].shape), tuple(value.shape)))
        else:
            matched += 1
    unexpected = [k for k in ckpt_state if k not in model_state]
    return dict(
        missing=missing,
        unexpected=unexpected,
        mismatched=mismatched,
        matched=matched,
        total=len(model_state))


def _likely_cause(diff, model_state, ckpt_state) -> str:
    model_family = guess_family(model_state)
    ckpt_family = guess_family(ckpt_state)
    if ckpt_family and model_family and ckpt_family != model_family:
        return (f'another model family (the checkpoint is a {ckpt_family}, '
                f'the model a {model_family})')
    if diff['matched'] == 0 and not diff['mismatched']:
        first = next(iter(ckpt_state), None)
        return ('not a checkpoint of this model: no name in common '
                f'(checkpoint keys look like {first!r})')
    shapes = diff['mismatched']
    if shapes and all(k.startswith('head.') for k, _, _ in shapes) and \
            not diff['missing'] and not diff['unexpected']:
        ckpt_n = ckpt_state[shapes[0][0]].shape[0]
        model_n = model_state[shapes[0][0]].shape[0]
        return (f'another class count (the checkpoint\'s head has '
                f'{ckpt_n} classes, the model\'s {model_n}); set '
                f'model.head.num_classes={ckpt_n} to evaluate it, or '
                'fine-tune from it with load_from in tools/train.py, '
                'which re-initialises the head')
    family = model_family or ckpt_family
    if family == 'FasterViT' and not shapes and all(
            FASTERVIT_CARRIER.search(k)
            for k in diff['missing'] + diff['unexpected']):
        return ('a FasterViT built for another input size (only carrier-'
                'token layers differ; the official any-resolution model '
                'has hat_pos_embed only where its window grid is square); '
                'for a checkpoint of an official faster_vit_<n>_any_res '
                'model set model.backbone.resolution to the (H, W) it was '
                'built for, with any_res=True')
    family = f' of {family}' if family else ''
    if shapes:
        return (f'another arch{family} (widths differ, e.g. '
                f'{shapes[0][0]}); check model.backbone.arch')
    return (f'another depth or arch{family} (blocks or layers '
            'differ); check model.backbone.arch')


def mismatch_summary(diff, model_state, ckpt_state, source, target) -> str:
    """One paragraph: counts, a few names of each kind, the likely cause.

    Args:
        diff (dict): From :func:`compare_state_dicts`.
        model_state (Mapping): The model's state dict.
        ckpt_state (Mapping): The checkpoint's state dict.
        source (str): The checkpoint, as the user named it.
        target (str): The model, e.g. its config file.
    """
    parts = [
        f'{len(diff["mismatched"])} of the model\'s {diff["total"]} tensors '
        f'have another shape, {len(diff["missing"])} are missing from the '
        f'checkpoint, {len(diff["unexpected"])} checkpoint tensors are '
        'unexpected'
    ]
    if diff['mismatched']:
        parts.append('other shapes: ' +
                     ', '.join(f'{k} {c} vs {m}'
                               for k, c, m in diff['mismatched'][:SHOWN]))
    if diff['missing']:
        parts.append('missing: ' + ', '.join(diff['missing'][:SHOWN]))
    if diff['unexpected']:
        parts.append('unexpected: ' + ', '.join(diff['unexpected'][:SHOWN]))
    cause = _likely_cause(diff, model_state, ckpt_state)
    return (f'Checkpoint {source} does not fit {target}: ' + '; '.join(parts) +
            f'. Likely cause: {cause}.')


def _is_output_norm(key):
    return re.match(r'^norms\.\d+\.', key) is not None


def check_fit(model_state: Mapping, ckpt_state: Mapping, rule: str,
              source: str, target: str) -> 'OrderedDict':
    """Check that ``ckpt_state`` fits ``model_state`` under ``rule``.

    Args:
        model_state (Mapping): ``model.state_dict()``.
        ckpt_state (Mapping): The checkpoint's state dict.
        rule (str): ``'strict'``, ``'finetune'`` or ``'backbone'`` (see the
            module's documentation).
        source (str): The checkpoint, as the user named it (for messages).
        target (str): The model (for messages).

    Returns:
        OrderedDict: The state dict to load: ``ckpt_state`` without the
        ``module.`` prefixes, and, under ``'finetune'``, without the
        tensors outside the backbone that do not fit (logged).

    Raises:
        CheckpointMismatchError: The checkpoint does not fit; the message
            says how and the likely cause.
    """
    if rule not in RULES:
        raise ValueError(f'rule must be one of {RULES}, got {rule!r}')
    state = strip_module(ckpt_state)
    diff = compare_state_dicts(model_state, state)
    if rule == 'strict':
        bad = diff['missing'] or diff['unexpected'] or diff['mismatched']
    elif rule == 'backbone':
        bad = diff['matched'] == 0 or diff['mismatched'] or any(
            not _is_output_norm(k) for k in diff['missing'])
    else:  # finetune
        bad = diff['matched'] == 0 or any(
            k.startswith('backbone.')
            for k in diff['missing'] + [k for k, _, _ in diff['mismatched']])
    if bad:
        raise CheckpointMismatchError(
            mismatch_summary(diff, model_state, state, source, target))
    if rule == 'finetune' and diff['mismatched']:
        for key, _, _ in diff['mismatched']:
            state.pop(key)
        print_log(
            f'{len(diff["mismatched"])} tensors of {source} do not fit '
            f'{target} and are not loaded (they keep their fresh '
            'initialisation): ' + ', '.join(f'{k} {c} -> {m}'
                                            for k, c, m in diff['mismatched']),
            logger='current',
            level=logging.WARNING)
    if rule != 'strict' and diff['missing']:
        print_log(
            f'{len(diff["missing"])} tensors of {target} are not in '
            f'{source} and keep their initialisation: ' +
            ', '.join(diff['missing'][:10]) +
            (' ...' if len(diff['missing']) > 10 else ''),
            logger='current',
            level=logging.WARNING)
    return state
