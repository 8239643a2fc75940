"""Parameters and FLOPs of the model of a config (``get_flops.py``)."""
import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.registry import MODELS, init_default_scope

from .deploy import switch_to_deploy


def count_flops(cfg, shape, deploy=False):
    """Return ``(params, flops)`` of the model ``cfg`` builds, for one
    ``3 x H x W`` input run in ``mode='tensor'`` (a classifier's logits, a
    detector's or segmentor's raw head outputs), after ``switch_to_deploy``
    if ``deploy``.

    FLOPs are counted as fvcore counts them (one multiply-add = one FLOP),
    as the official MogaNet ``get_flops.py`` does, through
    ``mmengine.analysis``.
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
        info = get_model_complexity_info(
            model, inputs=(inputs, ), show_table=False, show_arch=False)
    return params, info['flops']
