"""Parameters and FLOPs of the model of a config.

    python tools/analysis_tools/get_flops.py CONFIG [--shape 224 [224]]
        [--cfg-options k=v ...] [--deploy]

FLOPs are counted as fvcore counts them (one multiply-add = one FLOP), as the
official MogaNet ``get_flops.py`` does, through ``mmengine.analysis``
(:func:`mogazoo.utils.flops.count_flops`). ``--deploy`` first switches every
module that has ``switch_to_deploy()`` (FasterViT: position-bias MLPs folded
into cached tables) and runs one forward to fill its caches, so the count is
that of the deployed model.
"""
import argparse
import sys

from mmengine.config import DictAction

from mogazoo.utils import load_config
from mogazoo.utils.flops import count_flops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+', default=[224])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument(
        '--deploy',
        action='store_true',
        help='count the model after switch_to_deploy()')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        sys.exit('--shape takes H or H W')
    shape = args.shape * 2 if len(args.shape) == 1 else args.shape
    try:
        cfg = load_config(args.config, args.cfg_options)
    except (FileNotFoundError, RuntimeError) as exc:
        sys.exit(f'get_flops: error: {exc}')
    try:
        params, flops = count_flops(cfg, shape, args.deploy)
    except ValueError as exc:
        sys.exit(f'get_flops: error: --deploy: {exc}')
    print(f'Config: {args.config}\nInput shape: (3, {shape[0]}, {shape[1]})\n'
          f'Params: {params / 1e6:.3f} M\nFLOPs: {flops / 1e9:.3f} G')
    return params, flops


if __name__ == '__main__':
    main()
