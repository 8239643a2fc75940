"""Inference (or training) throughput and peak memory of the model of a
classification config.

    python tools/analysis_tools/benchmark.py CONFIG [--batch-size 32]
        [--shape H [W]] [--device auto|cpu|cuda] [--amp] [--channels-last]
        [--compile] [--deploy] [--train] [--warmup 3] [--iters 10]
        [--threads N] [--cfg-options k=v ...]

The model of CONFIG is built with random weights (speed does not depend on
them) and run in eval mode under ``torch.inference_mode`` on random images of
the size the config tests at (the crop of its test pipeline; 224 if the
pipeline does not fix it; ``--shape`` overrides). It prints the images per
second over the timed iterations and the peak memory as
``mogazoo.engine.hooks.peak_memory_mb`` measures it: CUDA memory allocated by
torch on a GPU, the peak resident set size of the process on the CPU.
``--amp`` autocasts to float16 on a GPU and to bfloat16 on the CPU;
``--deploy`` times the deploy form (``switch_to_deploy()``, e.g. FasterViT's
cached position biases). ``--train`` times training steps instead: the model
in train mode, cross-entropy on random labels, backward and an AdamW step
(with a gradient scaler under float16 autocast).
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mogazoo  # noqa: E402,F401
from mogazoo.engine.hooks import peak_memory_mb  # noqa: E402
from mogazoo.utils import load_config, switch_to_deploy  # noqa: E402


def _pair(size):
    """A crop/resize ``scale`` of mmcv/mmpretrain (int or (w, h)) ->
    (h, w)."""
    if isinstance(size, int):
        return size, size
    return int(size[1]), int(size[0])


def test_shape(cfg, default=224):
    """(H, W) the config feeds its model at test time: the size left by the
    last ``CenterCrop``/``Resize`` of its test (or val) pipeline, ``default``
    when a later transform (e.g. ``ResizeEdge``) leaves it open."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline') or cfg.get(
        'test_pipeline') or []
    shape = None
    for t in pipeline:
        kind = t.get('type', '')
        if kind in ('CenterCrop', 'RandomCrop') and 'crop_size' in t:
            shape = _pair(t['crop_size'])
        elif kind == 'RandomResizedCrop' and 'scale' in t:
            scale = t['scale']  # (h, w) for this transform
            shape = (scale, scale) if isinstance(scale, int) else tuple(scale)
        elif kind == 'Resize' and t.get('scale') is not None \
                and not t.get('keep_ratio', False):
            shape = _pair(t['scale'])
        elif kind in ('Resize', 'ResizeEdge', 'RandomResize'):
            shape = None
    return shape or (default, default)


def resolve_device(device):
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda given but CUDA is not available')
    return device


def benchmark(model, inputs, device='cpu', amp=False, channels_last=False,
              compile=False, warmup=3, iters=10, train=False):
    """Time ``model(inputs)`` in eval mode under inference mode, or with
    ``train=True`` whole training steps (train mode, cross-entropy of the
    flattened output against random labels, backward, AdamW step).

    Returns:
        dict: ``images_per_sec``, ``seconds`` (of the timed iterations),
        ``batch_size``, ``iters`` and ``peak_mem_mb``.
    """
    model = model.to(device).train(train)
    inputs = inputs.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    if compile:
        model = torch.compile(model)
    dtype = torch.float16 if device == 'cuda' else torch.bfloat16
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    autocast = torch.autocast(device_type=device, dtype=dtype, enabled=amp)
    if train:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scaler = torch.amp.GradScaler(
            device, enabled=amp and dtype == torch.float16)
        labels = None

        def run():
            nonlocal labels
            with autocast:
                out = model(inputs)
            out = out[-1] if isinstance(out, (tuple, list)) else out
            out = out.float().flatten(1)
            if labels is None:
                labels = torch.randint(out.shape[1], (len(out), ),
                                       device=out.device)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(F.cross_entropy(out, labels)).backward()
            scaler.step(optimizer)
            scaler.update()

        context = torch.enable_grad()
    else:

        def run():
            with autocast:
                model(inputs)

        context = torch.inference_mode()
    with context:
        for _ in range(warmup):
            run()
        sync()
        start = time.perf_counter()
        for _ in range(iters):
            run()
        sync()
        seconds = time.perf_counter() - start
    return dict(
        images_per_sec=len(inputs) * iters / seconds,
        seconds=seconds,
        batch_size=len(inputs),
        iters=iters,
        peak_mem_mb=peak_memory_mb(device))


def build_model(cfg):
    from mmengine.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return MODELS.build(cfg.model)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--shape', type=int, nargs='+',
                        help='input H [W]; default: the test crop')
    parser.add_argument('--device', choices=['auto', 'cpu', 'cuda'],
                        default='auto')
    parser.add_argument('--amp', action='store_true',
                        help='autocast (float16 on GPU, bfloat16 on CPU)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the model')
    parser.add_argument('--deploy', action='store_true',
                        help='switch_to_deploy() first (FasterViT)')
    parser.add_argument('--train', action='store_true',
                        help='time training steps (forward, backward, AdamW)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed iterations first')
    parser.add_argument('--iters', type=int, default=10,
                        help='timed iterations')
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error('--shape takes H or H W')
    if args.train and args.deploy:
        parser.error('--deploy is an inference form; it cannot be timed '
                     'with --train')
    if args.batch_size < 1 or args.iters < 1 or args.warmup < 0:
        parser.error('--batch-size and --iters must be >= 1, --warmup >= 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)
        device = resolve_device(args.device)
    except (FileNotFoundError, RuntimeError) as exc:
        sys.exit(f'benchmark: error: {exc}')
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.shape:
        shape = tuple(args.shape * 2 if len(args.shape) == 1 else args.shape)
    else:
        shape = test_shape(cfg)
    model = build_model(cfg)
    if args.deploy:
        try:
            switch_to_deploy(model)
        except ValueError as exc:
            sys.exit(f'benchmark: error: --deploy: {exc}')
    inputs = torch.randn(args.batch_size, 3, *shape)
    res = benchmark(model, inputs, device, args.amp, args.channels_last,
                    args.compile, args.warmup, args.iters, args.train)
    where = device if device == 'cuda' else \
        f'cpu ({torch.get_num_threads()} threads)'
    print(f'Config: {args.config}\n'
          f'Device: {where}, batch {args.batch_size}, input 3x{shape[0]}x'
          f'{shape[1]}, amp {"on" if args.amp else "off"}, channels_last '
          f'{"on" if args.channels_last else "off"}, compile '
          f'{"on" if args.compile else "off"}, deploy '
          f'{"on" if args.deploy else "off"}, {args.iters} timed '
          f'{"training steps" if args.train else "iterations"} after '
          f'{args.warmup}\n'
          f'Images/s: {res["images_per_sec"]:.2f}\n'
          f'Peak memory: {res["peak_mem_mb"]:.0f} MiB')
    return res


if __name__ == '__main__':
    main()
