"""Look at a config's dataset: images as loaded and as the pipeline gives
them to the model, with their classes.

    python tools/visualization/browse_dataset.py CONFIG
        [--phase train|val|test]
        [--mode original|transformed|concat] [--show-number 20]
        [--output-dir browse] [--size 128] [--columns 5]
        [--cfg-options k=v ...]

Writes ``<index>_<class>.png`` per sample and ``grid.png`` (all of them,
titled ``#index: class``) into ``--output-dir``. ``transformed`` is the
pipeline's output (random augmentations of the train pipeline included;
before the data preprocessor's normalisation), ``concat`` shows both.
Works for every classification dataset config: the bundled digits, your
image folder (``configs/_base_/datasets/image_folder.py``), ImageNet.
"""
import argparse
import os
import os.path as osp
import re
import sys

from mmengine.config import DictAction

from mogazoo.utils import load_config
from mogazoo.visualization import save_rgb
from mogazoo.visualization.browse import (MODES, PHASES, build_dataset,
                                          render_grid, sample_pictures)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--phase', default='train', choices=PHASES)
    parser.add_argument('--mode', default='transformed', choices=MODES)
    parser.add_argument(
        '--show-number',
        type=int,
        default=20,
        help='how many samples, evenly spaced over the dataset (20)')
    parser.add_argument('--output-dir', default='browse')
    parser.add_argument(
        '--size', type=int, default=128, help='image height in pixels')
    parser.add_argument('--columns', type=int, default=5)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.show_number < 1:
        parser.error(f'--show-number must be >= 1, got {args.show_number}')
    if args.size < 8:
        parser.error(f'--size must be >= 8, got {args.size}')
    return args


def spread(length, number):
    """``number`` indices evenly spaced over ``range(length)`` (all of them
    when ``number >= length``): a folder-sorted dataset shows every class."""
    if number >= length:
        return list(range(length))
    return sorted(
        {round(i * (length - 1) / max(number - 1, 1))
         for i in range(number)})


def main(argv=None):
    args = parse_args(argv)
    import mogazoo  # noqa: F401  (registers datasets and transforms)
    try:
        cfg = load_config(args.config, args.cfg_options)
        dataset = build_dataset(cfg, args.phase)
        indices = spread(len(dataset), args.show_number)
        pictures = list(
            sample_pictures(dataset, args.mode, indices, size=args.size))
        grid = render_grid(pictures, args.columns)
    except (FileNotFoundError, KeyError, RuntimeError, ValueError) as exc:
        sys.exit(f'browse_dataset.py: error: {exc}')
    os.makedirs(args.output_dir, exist_ok=True)
    for index, name, picture in pictures:
        safe = re.sub(r'[^\w.-]+', '_', name)
        save_rgb(picture, osp.join(args.output_dir, f'{index:05d}_{safe}.png'))
    save_rgb(grid, osp.join(args.output_dir, 'grid.png'))
    print(f'{len(pictures)} of {len(dataset)} {args.phase} samples '
          f'({args.mode}) -> {args.output_dir}/ (grid.png)')
    return pictures


if __name__ == '__main__':
    main()
