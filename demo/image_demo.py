"""Top-k predictions of a classifier for one image, printed and, with
``--out``, drawn.

    python demo/image_demo.py IMAGE CONFIG_OR_NAME [--checkpoint FILE]
        [--topk 5] [--device cpu] [--out result.png] [--cam]
        [--cam-method gradcam] [--size 224] [--cfg-options k=v ...]

CONFIG_OR_NAME is a config file or a config name (``mogazoo.list_models()``,
e.g. ``moganet-xtiny_1xb64_digits``). Without ``--checkpoint`` the weights
are random.

``--out result.png`` writes one picture: the image as the model sees it
(after the config's test pipeline), with ``--cam`` its class activation map
of the predicted class (needs the grad-cam package; ``--cam-method`` one of
gradcam, gradcam++, layercam, eigencam; the deepest stage whose map is larger
than 1x1, e.g. stride 16 for the 32x32 digits), and the top-k scores as
bars.
Each panel is ``--size`` pixels high.
"""
import argparse
import sys

from mmengine.config import DictAction

import mogazoo
from mogazoo.visualization import (METHODS, compute_cam,
                                   informative_target_layers,
                                   render_prediction, save_rgb)
from mogazoo.visualization.cam import preprocess
from mogazoo.visualization.predictions import prediction_text


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='config file or config name')
    parser.add_argument('--checkpoint', help='checkpoint file')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the picture to this PNG')
    parser.add_argument(
        '--cam',
        action='store_true',
        help='add the class activation map to the picture (needs --out)')
    parser.add_argument(
        '--cam-method',
        default='gradcam',
        choices=list(METHODS),
        help='CAM method (gradcam)')
    parser.add_argument(
        '--size', type=int, default=224, help='panel height in pixels')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.cam and not args.out:
        parser.error('--cam draws into the picture: give --out FILE.png')
    if args.size < 16:
        parser.error(f'--size must be at least 16, got {args.size}')
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        model = mogazoo.get_model(args.config, args.checkpoint, args.device,
                                  **(args.cfg_options or {}))
        preds = mogazoo.inference_model(model, args.image, args.topk)
        picture = None
        if args.out:
            cam = compute_cam(
                model,
                args.image,
                method=args.cam_method,
                target_layers=informative_target_layers(
                    model, args.image)) if args.cam else None
            _, shown = preprocess(model, args.image)
            picture = render_prediction(
                preds, shown, cam.overlay if cam else None, size=args.size)
    except (FileNotFoundError, ImportError, KeyError, RuntimeError,
            ValueError) as exc:
        sys.exit(f'image_demo.py: error: {exc}')
    for rank, p in enumerate(preds, 1):
        name = p['class_name'] if p['class_name'] is not None else '-'
        print(f"{rank}. label {p['label']} ({name}): {p['score']:.4f}")
    if picture is not None:
        save_rgb(picture, args.out)
        what = ' with its CAM' if args.cam else ''
        print(f'prediction {prediction_text(preds[0])}{what} -> {args.out}')
    return preds, picture


if __name__ == '__main__':
    main()
