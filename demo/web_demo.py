"""A web demo of one model in the browser (Gradio), served on 127.0.0.1.

    python demo/web_demo.py [CONFIG [CHECKPOINT]] [--port 7860]
        [--host 127.0.0.1] [--examples IMAGE ...] [--topk 5]
        [--cam-method gradcam|gradcam++|layercam|eigencam|none]
        [--score-thr 0.3] [--device cpu]

Without CONFIG it serves the digits demo model that ``make demo`` trains
(``configs/moganet/moganet-xtiny_1xb64_digits.py`` and the last checkpoint in
``work_dirs/demo``), with the first validation image of each digit in
``data/digits/val`` as examples. Upload an image or pick an example, press
Predict: a classifier shows the top-k classes and the CAM of the predicted
class; a detection / segmentation config shows the drawn prediction.
Nothing is loaded from the internet (needs ``pip install gradio``).
"""
import argparse
import glob
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(ROOT, 'configs/moganet/moganet-xtiny_1xb64_digits.py')
DEMO_WORK_DIR = osp.join(ROOT, 'work_dirs/demo')
DEMO_DATA = osp.join(ROOT, 'data/digits/val')


def last_checkpoint(work_dir):
    """The ``epoch_N.pth`` with the largest N in ``work_dir``, or None."""
    ckpts = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
    if not ckpts:
        return None
    return max(ckpts, key=lambda p: int(p.rsplit('_', 1)[1][:-4]))


def demo_examples(root=DEMO_DATA):
    """The first image of each class folder under ``root``."""
    return [
        sorted(glob.glob(osp.join(d, '*.png')))[0]
        for d in sorted(glob.glob(osp.join(root, '*')))
        if glob.glob(osp.join(d, '*.png'))
    ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'config',
        nargs='?',
        help='config file or name (default: the make demo digits model)')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument(
        '--examples', nargs='+', default=None, help='example image files')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument(
        '--cam-method',
        default='gradcam',
        help='CAM method of classifiers, or none')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def resolve(args):
    """Config, checkpoint and examples, with the ``make demo`` defaults."""
    config, checkpoint, examples = args.config, args.checkpoint, args.examples
    if config is None:
        config = DEMO_CONFIG
        checkpoint = last_checkpoint(DEMO_WORK_DIR)
        if checkpoint is None:
            raise FileNotFoundError(
                f'No checkpoint in {DEMO_WORK_DIR}: run make demo first, or '
                'give CONFIG CHECKPOINT')
        if examples is None:
            examples = demo_examples()
    return config, checkpoint, examples or []


def main(argv=None):
    args = parse_args(argv)
    from mogazoo.apis.web_demo import CSS, build_web_demo
    from mogazoo.visualization import METHODS
    cam_method = None if args.cam_method == 'none' else args.cam_method
    if cam_method is not None and cam_method not in METHODS:
        sys.exit(f'web_demo.py: error: --cam-method {args.cam_method}: '
                 f'choose from {", ".join(METHODS)} or none')
    try:
        config, checkpoint, examples = resolve(args)
        demo = build_web_demo(
            config,
            checkpoint,
            examples=examples,
            topk=args.topk,
            cam_method=cam_method,
            score_thr=args.score_thr,
            device=args.device)
    except (FileNotFoundError, ImportError, KeyError, RuntimeError,
            ValueError) as exc:
        sys.exit(f'web_demo.py: error: {exc}')
    print(
        f'web demo of {config} ({checkpoint or "random weights"}) on '
        f'http://{args.host}:{args.port}',
        flush=True)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=False,
        show_error=True,
        ssr_mode=False,
        css=CSS,
        allowed_paths=[osp.dirname(osp.abspath(e)) for e in examples])


if __name__ == '__main__':
    main()
