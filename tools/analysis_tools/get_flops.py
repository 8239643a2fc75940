"""Parameters and FLOPs of the model of a config.

    python tools/analysis_tools/get_flops.py CONFIG [--shape 224 [224]]
        [--cfg-options k=v ...] [--deploy]

FLOPs are counted as fvcore counts them (one multiply-add = one FLOP), as the
official MogaNet ``get_flops.py`` does, through ``mmengine.analysis``.
``--deploy`` first switches every module that has ``switch_to_deploy()``
(FasterViT: position-bias MLPs folded into cached tables) and runs one
forward to fill its caches, so the count is that of the deployed model.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.analysis import get_model_complexity_info  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mogazoo  # noqa: E402,F401
from mogazoo.utils import load_config, switch_to_deploy  # noqa: E402


def count(cfg, shape, deploy=False):
    """Return ``(params, flops)`` of the model ``cfg`` builds, for one
    ``3 x H x W`` input run in ``mode='tensor'`` (a classifier's logits, a
    detector's or segmentor's raw head outputs), after ``switch_to_deploy``
    if ``deploy``."""
    from mmengine.registry import MODELS
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+', default=[224])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--deploy', action='store_true',
                        help='count the model after switch_to_deploy()')
    args = parser.parse_args()
    if len(args.shape) not in (1, 2):
        sys.exit('--shape takes H or H W')
    shape = args.shape * 2 if len(args.shape) == 1 else args.shape
    try:
        cfg = load_config(args.config, args.cfg_options)
    except (FileNotFoundError, RuntimeError) as exc:
        sys.exit(f'get_flops: error: {exc}')
    try:
        params, flops = count(cfg, shape, args.deploy)
    except ValueError as exc:
        sys.exit(f'get_flops: error: --deploy: {exc}')
    print(f'Config: {args.config}\nInput shape: (3, {shape[0]}, {shape[1]})\n'
          f'Params: {params / 1e6:.3f} M\nFLOPs: {flops / 1e9:.3f} G')


if __name__ == '__main__':
    main()
