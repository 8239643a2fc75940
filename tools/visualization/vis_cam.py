"""Class activation maps (Grad-CAM, Grad-CAM++, LayerCAM, EigenCAM) of a
classifier for images.

    python tools/visualization/vis_cam.py IMAGE [IMAGE ...] CONFIG CHECKPOINT
        [--method gradcam|gradcam++|layercam|eigencam]
        [--target-layers NAME ...] [--target-category N] [--device cpu]
        [--aug-smooth] [--eigen-smooth] [--alpha 0.5] [--out cam.png]
        [--cfg-options k=v ...]

Needs the grad-cam package (``pip install grad-cam``). CONFIG is a config
file or name, CHECKPOINT its weights. Each image goes through the config's
test pipeline, so the map is at the model's input size (32x32 for the
digits demo; pass e.g. ``--cfg-options
test_dataloader.dataset.pipeline.1.scale=64,64`` for another size). The
output is the CAM (jet colormap) over that resized input, as a PNG.

``--out``: with one IMAGE, the PNG to write (default ``cam.png``; an
existing folder gets ``<image stem>.png``). With several, a folder (default
``cams``, created) that gets ``<image stem>.png`` per image, or
``<image stem>_<i>.png`` (``i``: the image's position among the IMAGEs,
from 0) for a stem that two images share.

``--target-layers`` are dotted module names such as ``backbone.stages.2``;
several are averaged. The default is the backbone's last stage (for DGMN2
its last block), unless its map is 1x1 at the input size (the 32x32 digits:
a flat CAM), then the deepest stage with a larger map.
``--target-category`` is the class to explain (default: the predicted
one).
"""
import argparse
import os
import os.path as osp
import sys
from collections import Counter

from mmengine.config import DictAction

import mogazoo
from mogazoo.visualization import (METHODS, compute_cams,
                                   informative_target_layers, save_cam)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'images', nargs='+', metavar='IMAGE', help='image files')
    parser.add_argument('config', help='config file or config name')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--method',
        default='gradcam',
        choices=list(METHODS),
        help='CAM method (gradcam)')
    parser.add_argument(
        '--target-layers',
        nargs='+',
        metavar='NAME',
        help='dotted module names (default: the last stage of the backbone '
        'whose map is larger than 1x1)')
    parser.add_argument(
        '--target-category',
        type=int,
        help='class index to explain (default: the predicted class)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--aug-smooth',
        action='store_true',
        help='average over flips and scalings (test-time augmentation)')
    parser.add_argument(
        '--eigen-smooth',
        action='store_true',
        help='first principal component of the weighted activations')
    parser.add_argument(
        '--alpha',
        type=float,
        default=0.5,
        help='weight of the heat map over the image (0.5)')
    parser.add_argument(
        '--out',
        help='output PNG (one image, default cam.png) or folder (several, '
        'default cams)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def output_paths(images, out):
    """The PNG of each image (see the module docstring for ``--out``)."""
    stems = [osp.splitext(osp.basename(p))[0] for p in images]
    if len(images) == 1:
        out = out or 'cam.png'
        return [osp.join(out, f'{stems[0]}.png') if osp.isdir(out) else out]
    out = out or 'cams'
    if osp.isfile(out) or out.lower().endswith('.png'):
        raise ValueError(f'--out {out}: with several images --out is a '
                         'folder (not a .png file)')
    repeated = {s for s, n in Counter(stems).items() if n > 1}
    return [
        osp.join(out, f'{s}_{i}.png' if s in repeated else f'{s}.png')
        for i, s in enumerate(stems)
    ]


def main(argv=None):
    args = parse_args(argv)
    if not 0 <= args.alpha <= 1:
        sys.exit(f'vis_cam.py: error: --alpha must be in [0, 1], got '
                 f'{args.alpha}')
    try:
        paths = output_paths(args.images, args.out)
        for image in args.images:  # before the model is built
            if not osp.isfile(image):
                raise FileNotFoundError(f'Image not found: {image}')
        model = mogazoo.get_model(args.config, args.checkpoint, args.device,
                                  **(args.cfg_options or {}))
        layers = args.target_layers or informative_target_layers(
            model, args.images[0])
        results = compute_cams(
            model,
            args.images,
            method=args.method,
            target_layers=layers,
            target_category=args.target_category,
            aug_smooth=args.aug_smooth,
            eigen_smooth=args.eigen_smooth,
            alpha=args.alpha)
    except (FileNotFoundError, ImportError, KeyError, RuntimeError,
            ValueError) as exc:
        sys.exit(f'vis_cam.py: error: {exc}')
    print(f'{args.method} of {", ".join(results[0].target_layers)} '
          f'(feature map {results[0].feature_sizes})')
    for image, path, result in zip(args.images, paths, results):
        if osp.dirname(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
        save_cam(result, path)
        name = f' ({result.class_name})' if result.class_name else ''
        pred = '' if result.pred_label == result.label else \
            f', predicted {result.pred_label} ({result.pred_score:.3f})'
        print(f'{image}: class {result.label}{name} score '
              f'{result.score:.3f}{pred} -> {path}')
    return results


if __name__ == '__main__':
    main()
