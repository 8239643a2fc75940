"""Inference (or training) throughput and peak memory of the model of a
classification config.

    python tools/analysis_tools/benchmark.py CONFIG [--batch-size 32]
        [--shape H [W]] [--device auto|cpu|cuda] [--amp] [--channels-last]
        [--compile] [--deploy] [--train] [--warmup 3] [--iters 10]
        [--threads N] [--cfg-options k=v ...]

The model of CONFIG is built with random weights (speed does not depend on
them) and run in eval mode under ``torch.inference_mode`` on random images of
the size the config tests at (``mogazoo.utils.pipeline_input_size``: the
size its test pipeline fixes; 224 if the image decides; ``--shape``
overrides). It prints the images per
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
import sys

import torch
from mmengine.config import DictAction
from mmengine.registry import MODELS, init_default_scope

from mogazoo.utils import load_config, pipeline_input_size, switch_to_deploy
from mogazoo.utils.benchmark import benchmark, resolve_device


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input H [W]; default: the test crop')
    parser.add_argument(
        '--device', choices=['auto', 'cpu', 'cuda'], default='auto')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='autocast (float16 on GPU, bfloat16 on CPU)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument(
        '--compile', action='store_true', help='torch.compile the model')
    parser.add_argument(
        '--deploy',
        action='store_true',
        help='switch_to_deploy() first (FasterViT)')
    parser.add_argument(
        '--train',
        action='store_true',
        help='time training steps (forward, backward, AdamW)')
    parser.add_argument(
        '--warmup', type=int, default=3, help='untimed iterations first')
    parser.add_argument(
        '--iters', type=int, default=10, help='timed iterations')
    parser.add_argument(
        '--threads', type=int, help='torch CPU threads (default: torch\'s)')
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
        shape = pipeline_input_size(cfg, default=(224, 224))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
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
