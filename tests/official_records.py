"""What the official MogaNet, FasterViT and DGMN2 code computes, as recorded
by ``tests/data/make_golden.py`` from the official repositories, and the
deterministic weights both sides use.

``tests/data/official_state_dicts.json.gz`` holds, per official model, its
state dict's layout: one ``[key, shape, dtype, kind]`` entry per key in the
official order, ``kind`` being

- ``'param'``: a parameter;
- ``'stat'``: a BatchNorm running mean or variance;
- ``'buffer'``: another buffer (``num_batches_tracked``, position tables the
  official model derives from its structure);
- ``'=KEY'``: a second name of the tensor stored under ``KEY`` (one module
  registered twice).

``tests/data/official_logits.json`` holds the logits of official models run
on :func:`image` with every parameter and running statistic set to
:func:`fill` of its official key.

The generator imports this module, so the weights it gives the official
model are the ones a test gives the converted checkpoint; this module
imports only torch.
"""
import functools
import gzip
import json
import math
import os.path as osp
import zlib
from collections import OrderedDict

import torch

DATA = osp.join(osp.dirname(osp.abspath(__file__)), 'data')
STATE_DICTS = osp.join(DATA, 'official_state_dicts.json.gz')
LOGITS = osp.join(DATA, 'official_logits.json')
#: The period of :func:`fill`'s values along a flattened tensor: a prime, so
#: that it does not line up with channel counts.
PERIOD = 4093


def fill(key, shape):
    """Deterministic float32 values of the tensor ``key`` (its official
    name) of ``shape``: a sine over the elements with a phase from the key's
    crc32, scaled by the tensor's role, so that every layer moves the
    logits (the signal neither dies out nor blows up over the depth):
    BN running statistics, scales (``gamma*``, ``layer_scale*``, ``scale``:
    around 0.5), norm weights (around 1), biases (small), and weights by
    their fan-in."""
    shape = tuple(shape)
    n = math.prod(shape)
    phase = (zlib.crc32(key.encode()) % 1000) / 100.
    # the values of the first PERIOD elements, repeated (quick for the
    # largest models)
    v = torch.sin(
        torch.arange(min(n, PERIOD), dtype=torch.float64) * 0.7 + phase)
    leaf = key.rsplit('.', 1)[-1]
    if leaf == 'running_var':
        v = 1.0 + 0.25 * (v + 1)
    elif leaf == 'running_mean':
        v = 0.02 * v
    elif leaf.startswith(('gamma', 'layer_scale')) or leaf == 'scale':
        v = 0.5 + 0.3 * v
    elif len(shape) == 1 and leaf == 'weight':
        v = 1 + 0.2 * v
    elif len(shape) == 1:
        v = 0.02 * v
    else:
        v = 1.4 * v / math.sqrt(n / shape[0])
    return v.float().repeat(-(-n // len(v)))[:n].reshape(shape)


def image(h, w, n=1):
    """A deterministic input batch ``(n, 3, h, w)``, values in [-1.5, 1.5]."""
    size = n * 3 * h * w
    return (1.5 * torch.sin(
        torch.arange(size, dtype=torch.float64) * 0.123)).float().reshape(
            n, 3, h, w)


@functools.lru_cache()
def _state_dicts():
    with gzip.open(STATE_DICTS, 'rt') as f:
        return json.load(f)


@functools.lru_cache()
def _logits():
    with open(LOGITS) as f:
        return json.load(f)


def layout(name):
    """The recorded entry of the official model ``name``: ``family``,
    ``builder`` and ``kwargs`` (the official function or class the generator
    called, and how), ``params`` (its parameter count) and ``state_dict``
    (the ``[key, shape, dtype, kind]`` entries)."""
    return _state_dicts()['models'][name]


def names(prefix=''):
    """The recorded official models whose name starts with ``prefix``."""
    return sorted(n for n in _state_dicts()['models'] if n.startswith(prefix))


def logits(case):
    """The recorded logits ``case``: ``model`` (an entry of :func:`layout`),
    ``kwargs`` (what the case passed to its builder besides), ``input`` (the
    ``(n, 3, h, w)`` of :func:`image`) and ``logits`` (a nested list)."""
    return _logits()['cases'][case]


def logit_cases(prefix=''):
    return sorted(c for c in _logits()['cases'] if c.startswith(prefix))


def key_shapes(name, kinds=('param', 'stat')):
    """``{key: shape}`` of the entries of ``name`` of the given kinds
    (by default the tensors a checkpoint must carry over)."""
    return {
        key: tuple(shape)
        for key, shape, _, kind in layout(name)['state_dict'] if kind in kinds
    }


def placeholder(key, shape, dtype='float32'):
    """A zero tensor of ``shape`` that takes no memory (one element,
    expanded), for checks of keys and shapes."""
    return torch.zeros((), dtype=getattr(torch, dtype)).expand(shape)


def official_state_dict(name, values=fill):
    """An official checkpoint's state dict for the recorded model ``name``:
    every parameter and running statistic ``values(key, shape)``, other
    buffers (which converters drop or models recompute) zeros of their dtype
    (:func:`placeholder`), and a second name the same tensor as its first.
    """
    out = OrderedDict()
    for key, shape, dtype, kind in layout(name)['state_dict']:
        if kind.startswith('='):
            out[key] = out[kind[1:]]
        elif kind in ('param', 'stat'):
            out[key] = values(key, shape)
        else:
            out[key] = placeholder(key, shape, dtype)
    return out


def relative_error(got, want):
    """Largest absolute difference over the largest magnitude of ``want``."""
    want = torch.as_tensor(want, dtype=got.dtype)
    return ((got - want).abs().max() / want.abs().max()).item()
