"""Parameters and FLOPs of the model of a config (``get_flops.py``)."""
from math import prod

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.registry import MODELS, init_default_scope

from .deploy import switch_to_deploy


def count_flops(cfg, shape, deploy=False):
    """Return ``(params, flops)`` of the model ``cfg`` builds, for one
    ``3 x H x W`` input run in ``mode='tensor'`` (a classifier's logits, a
    detector's or segmentor's raw head outputs), after ``switch_to_deploy``
    if ``deploy``.

    FLOPs are counted as fvcore counts them (one multiply-add = one FLOP),
    as the official MogaNet ``get_flops.py`` does, through
    ``mmengine.analysis``; a fused attention counts as the two matrix
    products it stands for (``q @ k^T`` and ``attn @ v``), as the official
    code's spelled-out attention is counted.
    """
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model).eval()
    params = sum(p.numel() for p in model.parameters())
    inputs = torch.randn(1, 3, *shape)
    if deploy:
        switch_to_deploy(model)
        with torch.no_grad():
            model(inputs)  # fills the deploy caches outside the trace
    # OpenMMLab models run their plain network in mode='tensor' (default)
    with torch.no_grad():
        analyzer = FlopAnalyzer(model, (inputs, ))
        analyzer.set_op_handle(
            **{'aten::scaled_dot_product_attention': attention_flop_jit})
        flops = analyzer.total()
    return params, flops


def attention_flop_jit(inputs, outputs):
    """FLOPs of ``scaled_dot_product_attention(q, k, v)`` in fvcore's count:
    ``q @ k^T`` (``... x Nq x D`` by ``... x D x Nk``) plus ``attn @ v``
    (``... x Nq x Nk`` by ``... x Nk x Dv``); softmax, scale and mask are
    element-wise and, as for the official code, not counted."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    *batch, nq, d = q
    nk, dv = k[-2], v[-1]
    return prod(batch) * nq * nk * (d + dv)
