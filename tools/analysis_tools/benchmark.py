"""Inference (or training) throughput and peak memory of the model of a
classification config.

    python tools/analysis_tools/benchmark.py CONFIG [--batch-size 32]
        [--shape H [W]] [--device auto|cpu|cuda] [--amp] [--channels-last]
        [--compile] [--deploy] [--train] [--warmup 3] [--iters 10]
        [--threads N] [--cfg-options k=v ...]
    python tools/analysis_tools/benchmark.py CONFIG --compare SPEC [SPEC ...]
        [--rounds 5] [--json OUT] [the options above]

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

``--compare`` times several variants side by side in one process: each
SPEC is ``[LABEL:] ITEM [ITEM ...]`` (one argument; quote it), an ITEM being
``eager`` (nothing), ``compile``, ``channels_last``, ``amp``, ``deploy`` or a
``key=value`` config override, e.g.::

    benchmark.py configs/dgmn2/dgmn2-tiny_8xb128_in1k.py --threads 2 \
        --batch-size 16 \
        --compare 'grid_sample: model.backbone.sampler=grid_sample' \
        'dcn: model.backbone.sampler=dcn' \
        'dcn+compile: model.backbone.sampler=dcn compile'

Each variant is built (same seed) and warmed up, then ``--rounds`` rounds
time ``--iters`` iterations of every variant in turn (order rotated each
round). It prints the median images/s, the range over the rounds, the ratio
to the first variant and the working memory (peak CUDA memory, or on the
CPU the peak rise of the resident set during its warm-up), and with
``--json`` writes them. A speed claim is such a ratio, never an absolute
time from another run.
"""
import argparse
import json
import shlex
import sys

import torch
from mmengine.config import DictAction
from mmengine.registry import MODELS, init_default_scope

from mogazoo.utils import load_config, pipeline_input_size, switch_to_deploy
from mogazoo.utils.benchmark import benchmark, compare, resolve_device

FLAGS = ('eager', 'compile', 'channels_last', 'amp', 'deploy')


def parse_spec(spec):
    """``'[LABEL:] ITEM ...'`` -> ``dict(label, flags, options)``."""
    label, sep, rest = spec.partition(':')
    if not sep or '=' in label:
        label, rest = spec.strip(), spec
    flags, options = set(), {}
    for item in shlex.split(rest):
        if '=' in item:
            key, value = item.split('=', 1)
            options[key] = DictAction._parse_iterable(value)
        elif item in FLAGS:
            flags.add(item)
        else:
            raise ValueError(f'--compare {spec!r}: unknown item {item!r}; '
                             f'an item is one of {FLAGS} or key=value')
    return dict(label=label.strip() or spec, flags=flags, options=options)


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
    parser.add_argument(
        '--compare',
        nargs='+',
        metavar='SPEC',
        help="variants timed side by side: '[LABEL:] ITEM ...' with ITEMs "
        'eager, compile, channels_last, amp, deploy or key=value')
    parser.add_argument(
        '--rounds',
        type=int,
        default=5,
        help='interleaved rounds of --compare (median over them)')
    parser.add_argument('--json', help='write the --compare results here')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error('--shape takes H or H W')
    if args.train and args.deploy:
        parser.error('--deploy is an inference form; it cannot be timed '
                     'with --train')
    if args.batch_size < 1 or args.iters < 1 or args.warmup < 0 or \
            args.rounds < 1:
        parser.error('--batch-size, --iters and --rounds must be >= 1, '
                     '--warmup >= 0')
    if args.compare:
        try:
            args.compare = [parse_spec(s) for s in args.compare]
        except ValueError as exc:
            parser.error(str(exc))
        if args.train and any('deploy' in v['flags'] for v in args.compare):
            parser.error('deploy is an inference form; it cannot be timed '
                         'with --train')
    elif args.json:
        parser.error('--json goes with --compare')
    return args


def build(cfg, deploy):
    """The config's model, random weights from seed 0 (every variant of a
    comparison the same where the architecture is)."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if deploy:
        try:
            switch_to_deploy(model)
        except ValueError as exc:
            sys.exit(f'benchmark: error: --deploy: {exc}')
    return model


def run_compare(args, device, shape):
    variants = []
    for v in args.compare:
        options = dict(args.cfg_options or {}, **v['options'])
        try:
            cfg = load_config(args.config, options or None)
        except (FileNotFoundError, KeyError, ValueError) as exc:
            sys.exit(f'benchmark: error: {v["label"]}: {exc}')
        flags = v['flags']
        try:
            model = build(cfg, 'deploy' in flags)
        except (TypeError, KeyError, ValueError, RuntimeError) as exc:
            sys.exit(f'benchmark: error: {v["label"]}: the model does not '
                     f'build: {exc}')
        variants.append(
            dict(
                label=v['label'],
                model=model,
                inputs=torch.randn(args.batch_size, 3, *shape),
                amp='amp' in flags or args.amp,
                channels_last='channels_last' in flags or args.channels_last,
                compile='compile' in flags or args.compile))
    results = compare(variants, device, args.warmup, args.iters, args.rounds,
                      args.train)
    where = device if device == 'cuda' else \
        f'cpu ({torch.get_num_threads()} threads)'
    what = 'training steps' if args.train else 'inference'
    print(f'Config: {args.config}\nDevice: {where}, batch '
          f'{args.batch_size}, input 3x{shape[0]}x{shape[1]}, {what}, '
          f'{args.rounds} interleaved rounds of {args.iters} iterations '
          f'after {args.warmup} warm-up\n')
    width = max(len(r['label']) for r in results)
    print(f'{"variant":<{width}}  {"img/s":>8}  {"range":>15}  '
          f'{"ratio":>6}  {"mem MiB":>8}')
    for r in results:
        print(f'{r["label"]:<{width}}  {r["images_per_sec"]:8.2f}  '
              f'{r["min"]:7.2f}-{r["max"]:<7.2f}  x{r["ratio"]:5.2f}  '
              f'{r["peak_mem_mb"]:8.0f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    config=args.config,
                    device=where,
                    batch_size=args.batch_size,
                    shape=list(shape),
                    train=args.train,
                    rounds=args.rounds,
                    iters=args.iters,
                    results=results),
                f,
                indent=2)
    return results


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
    if args.compare:
        return run_compare(args, device, shape)
    model = build(cfg, args.deploy)
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
