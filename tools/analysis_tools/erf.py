"""Effective receptive field of a classifier's backbone, as the RepLKNet
analysis (and the MogaNet paper) draws it.

    python tools/analysis_tools/erf.py CONFIG [CHECKPOINT] --images DIR
        [--num-images 50] [--device cpu] [--out erf.png] [--save-npy erf.npy]
        [--cfg-options k=v ...]

The gradient of the centre of the last stage's output (relu, summed over
channels) with respect to the input, absolute and summed over the input
channels, averaged over the images of DIR (searched recursively: .png,
.jpg, .jpeg, .bmp; sorted, the first ``--num-images``) through the config's
test pipeline. Without CHECKPOINT the weights are the random init, so the
ERF at init and after training can be compared. The PNG is the log-scaled,
normalised map (``log10(x + 1) / max``) with the high-contribution area
ratios at 20/30/50/99 % in its title (the area of the smallest centred
square holding that share of the total score): they are printed too.
"""
import argparse
import glob
import os.path as osp
import sys

import numpy as np
from mmengine.config import DictAction

import mogazoo
from mogazoo.visualization.erf import (compute_erf, high_contribution_ratios,
                                       save_erf)

EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file or config name')
    parser.add_argument(
        'checkpoint', nargs='?', help='weights (default: random init)')
    parser.add_argument('--images', required=True, help='folder of images')
    parser.add_argument('--num-images', type=int, default=50)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default='erf.png', help='heat map PNG')
    parser.add_argument('--save-npy', help='also save the raw mean map')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error('--num-images must be >= 1')
    return args


def find_images(folder, limit):
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--images: no such folder: {folder}')
    paths = sorted(
        p for p in glob.glob(osp.join(folder, '**', '*'), recursive=True)
        if p.lower().endswith(EXTENSIONS))
    if not paths:
        raise FileNotFoundError(
            f'--images: no {"/".join(EXTENSIONS)} image under {folder}')
    return paths[:limit]


def main(argv=None):
    args = parse_args(argv)
    try:
        images = find_images(args.images, args.num_images)
        model = mogazoo.get_model(args.config, args.checkpoint, args.device,
                                  **(args.cfg_options or {}))
        erf = compute_erf(model, images)
    except (FileNotFoundError, KeyError, RuntimeError, ValueError) as exc:
        sys.exit(f'erf.py: error: {exc}')
    title = osp.basename(
        args.config) + ('' if args.checkpoint else ' (random init)')
    save_erf(erf, args.out, title)
    if args.save_npy:
        np.save(args.save_npy, erf)
    ratios = high_contribution_ratios(erf)
    print(f'ERF of {title} over {len(images)} images, input '
          f'{erf.shape[0]}x{erf.shape[1]}: ' +
          ', '.join(f'{int(t * 100)}% in {r:.3f} of the area'
                    for t, r in ratios.items()) + f'\nsaved {args.out}')
    return dict(erf=erf, ratios=ratios, images=images)


if __name__ == '__main__':
    main()
