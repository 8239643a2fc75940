"""Top-k predictions of a classifier for one image.

    python demo/image_demo.py IMAGE CONFIG_OR_NAME [--checkpoint FILE]
        [--topk 5] [--device cpu] [--cfg-options k=v ...]

CONFIG_OR_NAME is a config file or a config name (``mogazoo.list_models()``,
e.g. ``moganet-xtiny_1xb64_digits``). Without ``--checkpoint`` the weights
are random.
"""
import argparse
import sys

from mmengine.config import DictAction

import mogazoo


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='config file or config name')
    parser.add_argument('--checkpoint', help='checkpoint file')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    args = parser.parse_args(argv)
    try:
        model = mogazoo.get_model(args.config, args.checkpoint, args.device,
                                  **(args.cfg_options or {}))
        preds = mogazoo.inference_model(model, args.image, args.topk)
    except (FileNotFoundError, KeyError, RuntimeError, ValueError) as exc:
        sys.exit(f'image_demo.py: error: {exc}')
    for rank, p in enumerate(preds, 1):
        name = p['class_name'] if p['class_name'] is not None else '-'
        print(f"{rank}. label {p['label']} ({name}): {p['score']:.4f}")


if __name__ == '__main__':
    main()
