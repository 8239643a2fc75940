"""Detection or segmentation of one image, drawn with mmdet's / mmseg's
visualizer.

    python demo/downstream_demo.py IMAGE CONFIG [CHECKPOINT] --out result.png
        [--score-thr 0.3] [--opacity 0.5] [--device cpu]

CONFIG is a detection (mmdet) or segmentation (mmseg) config of this repo,
e.g. ``configs/moganet/det/retinanet_moganet-xtiny_fpn_digit-scenes.py``;
CHECKPOINT its weights (an official MogaNet mmdet / mmseg checkpoint is
converted on load). Prints the boxes (detection) or the class areas
(segmentation) and writes the drawn prediction to ``--out``.
"""
import argparse
import sys

import numpy as np

from mogazoo.apis import (downstream_task, inference_downstream,
                          init_downstream_model, render_downstream)
from mogazoo.visualization import save_rgb


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='detection or segmentation config')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--out', default='result.png', help='output PNG (result.png)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw boxes scoring at least this (detection, 0.3)')
    parser.add_argument(
        '--opacity',
        type=float,
        default=0.5,
        help='opacity of masks / the class map (0.5)')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    for name in ('score_thr', 'opacity'):
        if not 0 <= getattr(args, name) <= 1:
            parser.error(f'--{name.replace("_", "-")} must be in [0, 1], got '
                         f'{getattr(args, name)}')
    return args


def describe(model, result, score_thr):
    """Lines that say what was found."""
    classes = model.dataset_meta['classes']
    if downstream_task(model.cfg) == 'detection':
        inst = result.pred_instances
        keep = inst.scores >= score_thr
        lines = [
            f'{classes[int(label)]}: {float(score):.3f} at '
            f'[{", ".join(f"{v:.1f}" for v in box.tolist())}]'
            for box, score, label in zip(inst.bboxes[keep], inst.scores[keep],
                                         inst.labels[keep])
        ]
        return lines or [f'no box scores >= {score_thr}']
    seg = result.pred_sem_seg.data[0].cpu().numpy()
    labels, counts = np.unique(seg, return_counts=True)
    return [
        f'{classes[int(c)]}: {100 * n / seg.size:.1f} % of the pixels'
        for c, n in sorted(zip(labels, counts), key=lambda t: -t[1])
    ]


def main(argv=None):
    args = parse_args(argv)
    try:
        model = init_downstream_model(args.config, args.checkpoint,
                                      args.device)
        result = inference_downstream(model, args.image)
        picture = render_downstream(model, args.image, result, args.score_thr,
                                    args.opacity)
    except (FileNotFoundError, KeyError, RuntimeError, ValueError) as exc:
        sys.exit(f'downstream_demo.py: error: {exc}')
    for line in describe(model, result, args.score_thr):
        print(line)
    save_rgb(picture, args.out)
    print(f'{downstream_task(model.cfg)} -> {args.out}')
    return result, picture


if __name__ == '__main__':
    main()
