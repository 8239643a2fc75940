"""mogazoo against the official code, as a user compares them: each model in
a process of its own, rounds alternating between the processes.

    python tools/analysis_tools/official_benchmark.py FAMILY --official PATH
        [--official-site DIR] [--variants official official+compile
        mogazoo mogazoo+compile] [--train] [--batch-size 16] [--shape 224]
        [--threads 2] [--warmup 2] [--iters 5] [--rounds 5] [--json OUT]

FAMILY is ``moganet-t``, ``fastervit-0`` or ``dgmn2-t``. PATH is a checkout
of the official repository (Westlake-AI/MogaNet, NVlabs/FasterViT,
fudan-zvg/DGMN2); its model file is imported from there, nothing of it is
copied here. ``--official-site`` is put first on the official processes'
``PYTHONPATH`` (the timm the official code needs: FasterViT's files import
``timm.models._builder._update_default_model_kwargs``, timm 0.9.16 has it).
DGMN2's ``DeformUnfold`` is CUDA only: on the CPU its stand-in is mogazoo's
exact transcription of the kernel (``sampler='pytorch'``).

A variant is ``official`` or ``mogazoo`` with ``+``-joined items:
``compile`` (the official model as ``torch.compile(model)``; mogazoo as
``mogazoo.models.utils.compile.compile_model`` compiles it, what
``--compile`` and ``get_model(compile=True)`` do: channels_last included
since that became its default), ``channels_last`` (the model and the
images, before any compile), or ``key=value`` config overrides for mogazoo
(e.g. ``mogazoo+model.backbone.sampler=dcn``).

Every process builds its model (seed 0) and runs ``--warmup`` iterations
(the compile happens there: its seconds are the warm-up). Then ``--rounds``
rounds each time ``--iters`` iterations of every variant in turn, one
process at a time (the others wait), the order rotated each round. An
iteration is the classifier's forward on a batch of random images under
``torch.no_grad`` in eval mode, or with ``--train`` a training step: train
mode, cross-entropy on fixed random labels, backward, AdamW (lr 1e-4); drop
path is off in every variant (the official constructors' default), so that
each step is the same computation and the losses can be compared.

Prints, per variant: median images/s, the range over the rounds, the ratio
to every ``official*`` variant, the warm-up seconds and (for compiled
variants) the break-even: how many iterations the compile needs to pay for
itself against the eager variant of the same code. With ``--train`` also the
largest relative difference of its losses (every step) from the first
variant of the same code.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time
import types

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: family: the mogazoo config and the official builder (file in the
#: checkout, function)
FAMILIES = {
    'moganet-t':
    dict(
        config='configs/moganet/moganet-tiny_8xb128_in1k.py',
        official=('models/moganet.py', 'moganet_tiny')),
    'fastervit-0':
    dict(
        config='configs/fastervit/fastervit-0_32xb128_in1k.py',
        official=('fastervit/models/faster_vit.py', 'faster_vit_0_224')),
    'dgmn2-t':
    dict(
        config='configs/dgmn2/dgmn2-tiny_8xb128_in1k.py',
        official=('classification/dgmn2.py', 'dgmn2_tiny')),
}


def parse_variant(text):
    """``'mogazoo+compile+k=v'`` -> dict(code, compile, channels_last,
    options)."""
    code, *items = text.split('+')
    if code not in ('official', 'mogazoo'):
        raise ValueError(f'variant {text!r}: starts with official or mogazoo')
    spec = dict(
        label=text,
        code=code,
        compile=False,
        channels_last=False,
        whole=False,
        freezing=False,
        options={})
    for item in items:
        if item in ('compile', 'channels_last', 'whole', 'freezing'):
            spec[item] = True
        elif '=' in item and code == 'mogazoo':
            key, value = item.split('=', 1)
            spec['options'][key] = value
        else:
            raise ValueError(f'variant {text!r}: unknown item {item!r}')
    spec['compile'] = spec['compile'] or spec['whole']
    return spec


# --- the worker process ---------------------------------------------------
def build_official(family, root):
    import contextlib
    rel, fn = FAMILIES[family]['official']
    path = osp.join(root, rel)
    if family == 'fastervit-0':
        sys.path.insert(0, root)
        module_name = 'fastervit.models.faster_vit'
    else:
        sys.path.insert(0, osp.dirname(path))
        module_name = osp.splitext(osp.basename(path))[0]
    if family == 'dgmn2-t':
        # the official `dcn` package imports its CUDA extension; on the CPU
        # mogazoo's transcription of the kernel stands in for DeformUnfold
        from mogazoo.models.utils.deform_unfold import DeformUnfold

        class OfficialDeformUnfold(DeformUnfold):

            def __init__(self,
                         kernel_size,
                         stride=1,
                         padding=0,
                         dilation=1,
                         deformable_groups=1,
                         bias=False):
                super().__init__(kernel_size, stride, padding, dilation,
                                 'pytorch')

        dcn = types.ModuleType('dcn')
        dcn.DeformUnfold = OfficialDeformUnfold
        sys.modules['dcn'] = dcn
    with contextlib.redirect_stdout(sys.stderr):
        if family == 'fastervit-0':
            module = importlib.import_module(module_name)
        else:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        return getattr(module, fn)(drop_path_rate=0.)


def build_mogazoo(family, options):
    from mmpretrain.registry import MODELS

    import mogazoo  # noqa: F401
    from mogazoo.utils import load_config
    cfg = load_config(
        osp.join(ROOT, FAMILIES[family]['config']), {
            'model.backbone.drop_path_rate': 0.,
            **options
        })
    return MODELS.build(cfg.model)


def worker(spec):
    # the replies go to the real stdout; whatever the libraries print, to
    # stderr (the variant's log)
    reply_to = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(**kwargs):
        print(json.dumps(kwargs), file=reply_to, flush=True)

    import torch
    import torch.nn.functional as F
    torch.set_num_threads(spec['threads'])
    torch.manual_seed(0)
    start = time.perf_counter()
    if spec['code'] == 'official':
        model = build_official(spec['family'], spec['official'])
    else:
        from mmengine.config import DictAction
        options = {
            k: DictAction._parse_iterable(v)
            for k, v in spec['options'].items()
        }
        model = build_mogazoo(spec['family'], options)
    train = spec['train']
    model.train(train)
    inputs = torch.randn(
        spec['batch_size'],
        3,
        *spec['shape'],
        generator=torch.Generator().manual_seed(1))
    if spec['channels_last']:
        model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    if spec['whole']:
        model = torch.compile(model)
    elif spec['compile']:
        if spec['code'] == 'official':
            model = torch.compile(model)
        else:
            from mogazoo.models.utils.compile import compile_model
            model = compile_model(
                model,
                dict(options=dict(
                    freezing=True)) if spec['freezing'] else True)
    labels = torch.randint(
        1000, (len(inputs), ), generator=torch.Generator().manual_seed(2))
    losses = []
    if train:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step():
            out = model(inputs)
            loss = F.cross_entropy(out, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    else:

        def step():
            with torch.no_grad():
                model(inputs)

    built = time.perf_counter() - start

    def timed(n):
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        return time.perf_counter() - t0

    reply(built=built, warmup=timed(spec['warmup']))
    for line in sys.stdin:
        n = int(line)
        if n == 0:
            break
        reply(seconds=timed(n))
    reply(losses=losses)


# --- the driver -------------------------------------------------------------
def start(spec, args):
    env = dict(os.environ)
    if spec['code'] == 'official' and args.official_site:
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (args.official_site, env.get('PYTHONPATH')) if p)
    env.setdefault('PYTHONWARNINGS', 'ignore')
    if not args.warm_cache:  # a first run: compiled from nothing
        env['TORCHINDUCTOR_CACHE_DIR'] = tempfile.mkdtemp(
            prefix='inductor-', dir=args.log_dir)
    log = open(osp.join(args.log_dir, spec['label'] + '.log'), 'w')
    proc = subprocess.Popen(
        [sys.executable, __file__, '--worker',
         json.dumps(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=ROOT,
        env=env)
    return proc


def ask(proc, label, n=None):
    if n is not None:
        proc.stdin.write(f'{n}\n')
        proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f'official_benchmark: error: {label} ended; see its '
                         'log in --log-dir')
    return json.loads(line)


def break_even(variant, eager):
    """Iterations after which the compiled ``variant`` has caught up with
    ``eager`` (its warm-up included), or None if it is not faster."""
    from mogazoo.models.utils.compile import break_even as iterations
    t_c, t_e = variant['seconds_per_iter'], eager['seconds_per_iter']
    extra = (variant['warmup'] - variant['warmup_iters'] * t_c) - (
        eager['warmup'] - eager['warmup_iters'] * t_e)
    return iterations(extra, t_c, t_e)


def run(args):
    specs = []
    for text in args.variants:
        spec = parse_variant(text)
        spec.update(
            family=args.family,
            official=args.official,
            train=args.train,
            batch_size=args.batch_size,
            shape=args.shape,
            threads=args.threads,
            warmup=args.warmup)
        specs.append(spec)
    os.makedirs(args.log_dir, exist_ok=True)
    procs = []
    for spec in specs:  # one at a time: the compiles do not overlap
        proc = start(spec, args)
        spec.update(ask(proc, spec['label']))
        print(
            f'[{spec["label"]}] built in {spec["built"]:.1f} s, '
            f'{args.warmup} warm-up iterations in {spec["warmup"]:.1f} s',
            flush=True)
        procs.append(proc)
    seconds = [[] for _ in specs]
    for r in range(args.rounds):
        for j in range(len(specs)):
            i = (j + r) % len(specs)
            seconds[i].append(
                ask(procs[i], specs[i]['label'], args.iters)['seconds'])
    for spec, proc in zip(specs, procs):
        spec.update(ask(proc, spec['label'], 0))
        proc.wait(60)
    results = []
    for spec, ts in zip(specs, seconds):
        speeds = [args.batch_size * args.iters / t for t in ts]
        results.append(
            dict(
                label=spec['label'],
                code=spec['code'],
                compile=spec['compile'],
                images_per_sec=statistics.median(speeds),
                min=min(speeds),
                max=max(speeds),
                seconds_per_iter=statistics.median(ts) / args.iters,
                warmup=spec['warmup'],
                warmup_iters=args.warmup,
                losses=spec['losses']))
    for res in results:
        res['ratios'] = {
            o['label']: res['images_per_sec'] / o['images_per_sec']
            for o in results if o['code'] == 'official'
        }
        eager = next((o for o in results
                      if o['code'] == res['code'] and not o['compile']), None)
        res['eager'] = eager['label'] if res['compile'] and eager else None
        res['break_even'] = break_even(res, eager) if res['eager'] else None
        first = next(o for o in results if o['code'] == res['code'])
        if res['losses'] and first['losses']:
            res['loss_rel_diff'] = max(
                abs(a - b) / abs(b)
                for a, b in zip(res['losses'], first['losses']))
    report(args, results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(vars(args), results=results), f, indent=2)
    return results


def report(args, results):
    officials = [r['label'] for r in results if r['code'] == 'official']
    what = 'training steps' if args.train else 'inference'
    print(f'\n{args.family}: {what}, batch {args.batch_size}, '
          f'{args.shape[0]}x{args.shape[1]}, {args.threads} threads, '
          f'{args.rounds} rounds of {args.iters} after {args.warmup} '
          'warm-up, one process per variant')
    head = ['variant', 'img/s', 'range'] + [f'x {o}' for o in officials] + [
        'warm-up s', 'break-even'
    ] + (['loss diff'] if args.train else [])
    rows = []
    for r in results:
        row = [
            r['label'], f'{r["images_per_sec"]:.2f}',
            f'{r["min"]:.2f}-{r["max"]:.2f}'
        ] + [f'x{r["ratios"][o]:.2f}' for o in officials]
        row.append(f'{r["warmup"]:.1f}')
        be = r['break_even']
        row.append('-' if not r['eager'] else (
            'never' if be is None else f'{be:.0f} it'))
        if args.train:
            d = r.get('loss_rel_diff')
            row.append('-' if d is None else f'{d:.1e}')
        rows.append(row)
    widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    for row in [head] + rows:
        print('  '.join(c.ljust(w) for c, w in zip(row, widths)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('family', choices=sorted(FAMILIES))
    parser.add_argument(
        '--official',
        required=True,
        help='checkout of the official repository')
    parser.add_argument(
        '--official-site',
        help='put first on the official processes\' PYTHONPATH (its timm)')
    parser.add_argument(
        '--variants',
        nargs='+',
        default=['official', 'official+compile', 'mogazoo', 'mogazoo+compile'])
    parser.add_argument('--train', action='store_true')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--shape', type=int, nargs='+', default=[224])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--json')
    parser.add_argument(
        '--warm-cache',
        action='store_true',
        help='keep torch.compile\'s cache (TORCHINDUCTOR_CACHE_DIR); by '
        'default each process compiles in an empty one, as a first run does')
    parser.add_argument(
        '--log-dir',
        default='work_dirs/official_benchmark',
        help='each process\'s stderr')
    args = parser.parse_args(argv)
    if len(args.shape) == 1:
        args.shape = args.shape * 2
    args.official = osp.abspath(args.official)
    if not osp.isfile(
            osp.join(args.official, FAMILIES[args.family]['official'][0])):
        parser.error(f'--official {args.official}: no '
                     f'{FAMILIES[args.family]["official"][0]} there (a '
                     f'checkout of the official {args.family} code)')
    try:
        for v in args.variants:
            parse_variant(v)
    except ValueError as exc:
        parser.error(str(exc))
    return args


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--worker':
        worker(json.loads(sys.argv[2]))
    else:
        run(parse_args())
