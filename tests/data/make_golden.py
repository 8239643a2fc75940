"""Record what the official MogaNet, FasterViT and DGMN2 models are, for the
tests: their state dicts' layouts and, where the official code runs on a
CPU, their logits.

Usage (from the repository root)::

    pip install --no-deps --target /tmp/official/site timm==0.9.16
    PYTHONPATH=/tmp/official/site python tests/data/make_golden.py \\
        --moganet PATH --fastervit PATH --dgmn2 PATH

Each PATH is a checkout of the official repository (Westlake-AI/MogaNet,
NVlabs/FasterViT, fudan-zvg/DGMN2); the official model files are imported
from there (``models/moganet.py``, the ``fastervit`` package,
``classification/dgmn2.py``), none of their code is copied here. They need
timm: FasterViT's files (fastervit 1.0.0) import
``timm.models._builder._update_default_model_kwargs``, which timm 0.9.16
has (0.9.6, pinned by its requirements.txt, predates the name); MogaNet's
and DGMN2's files import only long-standing timm names.

Writes

- ``tests/data/official_state_dicts.json.gz``: per official model, every
  state-dict key with its shape, dtype and kind (see
  ``tests/official_records.py``) and the parameter count;
- ``tests/data/official_logits.json``: logits of official models whose every
  parameter and running statistic is ``official_records.fill(key, shape)``,
  on the input ``official_records.image(h, w)``, in float32.

The layouts are taken from models built on the meta device (no memory);
``torch.linspace``, whose values the official constructors read (drop-path
rates), is kept on the CPU meanwhile. DGMN2's ``DeformUnfold`` has no
weights, but its package imports the compiled CUDA extension
(``dcn.deform_conv_cuda``, ``dcn.deform_pool_cuda``): empty stand-ins of
those two modules let the official Python files import; nothing here runs
them (no DGMN2 logits: its sampling kernel is CUDA only).
"""
import argparse
import contextlib
import gzip
import hashlib
import importlib
import importlib.util
import io
import json
import os.path as osp
import re
import subprocess
import sys
import types

import torch

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(HERE))  # tests/: official_records
import official_records  # noqa: E402

MOGANET_ARCHS = ['xtiny', 'tiny', 'small', 'base', 'large', 'xlarge']
FASTERVIT_224 = [f'faster_vit_{i}_224' for i in range(7)
                 ] + [f'faster_vit_4_21k_{r}' for r in (224, 384, 512, 768)]
# faster_vit_0_any_res as built for (resolution, window sizes)
FASTERVIT_0_ANY_RES = [((256, 320), (7, 7, 8, 4)), ((576, 960), (7, 7, 7, 7)),
                       ((576, 960), (7, 7, 12, 6)), ((224, 224), (7, 7, 7, 7))]
# a small FasterViT (the tests' SMALL): carrier tokens in stages 3 and 4 at
# small inputs
SMALL_FASTERVIT = dict(
    dim=16,
    in_dim=8,
    depths=[1, 1, 2, 2],
    num_heads=[2, 2, 4, 4],
    ct_size=2,
    mlp_ratio=4,
    layer_scale=1e-5,
    do_propagation=True,
    drop_path_rate=0.,
    num_classes=10)
# name: (official file, resolution, window sizes, hat); logits at resolution
SMALL_FASTERVIT_CASES = {
    'fastervit_small_224':
    ('faster_vit', 224, [7, 7, 7, 7], [False, False, True, False]),
    'fastervit_small_any_res_192x320':
    ('faster_vit_any_res', [192, 320], [7, 7, 6,
                                        5], [False, False, True, True]),
    'fastervit_small_any_res_256x320_w8_5':
    ('faster_vit_any_res', [256, 320], [7, 7, 8,
                                        5], [False, False, True, True]),
    'fastervit_small_any_res_256x320_w8_10':
    ('faster_vit_any_res', [256, 320], [7, 7, 8,
                                        10], [False, False, True, True]),
}
DGMN2_ARCHS = ['tiny', 'small', 'medium', 'large']
MOGANET_INPUT = (64, 96)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def source(root, *files):
    """Where the official code came from: the checkout's commit (when it
    is a git checkout) and the sha256 of the files that define the
    models."""

    def git(*args):
        return subprocess.run(['git', '-C', root, *args],
                              capture_output=True,
                              text=True,
                              check=True).stdout.strip()

    try:
        top = git('rev-parse', '--show-toplevel')
        commit = git('rev-parse', 'HEAD') if osp.samefile(top, root) else None
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return dict(
        commit=commit, files={f: sha256(osp.join(root, f))
                              for f in files})


def quiet_import(name, path=None):
    """Import a module (from ``path`` when given) without its prints (the
    official MogaNet file prints a line per missing mmdet/mmseg/mmpose)."""
    with contextlib.redirect_stdout(io.StringIO()):
        if path is None:
            return importlib.import_module(name)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module


@contextlib.contextmanager
def on_meta():
    """Build on the meta device, ``torch.linspace`` on the CPU."""
    linspace = torch.linspace

    def cpu_linspace(*args, **kwargs):
        kwargs.setdefault('device', 'cpu')
        return linspace(*args, **kwargs)

    torch.linspace = cpu_linspace
    try:
        with torch.device('meta'):
            yield
    finally:
        torch.linspace = linspace


def layout(model):
    """``[key, shape, dtype, kind]`` per state-dict key, in order."""
    first = {}
    entries = []
    for key, value in model.state_dict(keep_vars=True).items():
        if id(value) in first:
            kind = '=' + first[id(value)]
        elif isinstance(value, torch.nn.Parameter):
            kind = 'param'
        elif key.endswith(('.running_mean', '.running_var')):
            kind = 'stat'
        else:
            kind = 'buffer'
        first.setdefault(id(value), key)
        entries.append(
            [key,
             list(value.shape),
             str(value.dtype).split('.')[-1], kind])
    return entries


def record(models, name, family, builder, kwargs, model, **extra):
    """The layout of ``model``, built by the official ``builder(**kwargs)``,
    as ``models[name]``."""
    models[name] = dict(
        family=family,
        builder=builder,
        kwargs=kwargs,
        **extra,
        params=sum(p.numel() for p in model.parameters()),
        state_dict=layout(model))


def filled(model):
    """``model`` with every parameter and running statistic
    ``official_records.fill`` of its key; other buffers as built."""
    entries = layout(model)
    state = {
        key: official_records.fill(key, shape)
        for key, shape, _, kind in entries if kind in ('param', 'stat')
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    kinds = {key: kind for key, _, _, kind in entries}
    assert all(kinds[k] == 'buffer' or kinds[k].startswith('=')
               for k in missing), missing
    return model.eval()


def run(model, h, w):
    with torch.no_grad():
        out = filled(model)(official_records.image(h, w))
    return [[float('%.9g' % v) for v in row] for row in out.tolist()]


def moganet(root, models, cases):
    official = quiet_import('official_moganet',
                            osp.join(root, 'models', 'moganet.py'))
    zoo = official.MogaNet.arch_zoo
    for arch in MOGANET_ARCHS:
        with on_meta():
            model = getattr(official, f'moganet_{arch}')()
        # the names MogaNet(arch=...) takes for this network
        aliases = sorted(k for k, v in zoo.items() if v == zoo[arch])
        record(
            models,
            f'moganet_{arch}',
            'MogaNet',
            f'moganet_{arch}', {},
            model,
            arch_names=aliases)
    h, w = MOGANET_INPUT
    for case, kwargs in (('moganet_xtiny', {}),
                         ('moganet_xtiny_attn_force_fp32',
                          dict(attn_force_fp32=True))):
        torch.manual_seed(0)
        model = official.moganet_xtiny(**kwargs)
        cases[case] = dict(
            model='moganet_xtiny',
            kwargs=kwargs,
            input=[1, 3, h, w],
            logits=run(model, h, w))
    return source(root, 'models/moganet.py')


def fastervit(root, models, cases):
    sys.path.insert(0, root)
    fixed = quiet_import('fastervit.models.faster_vit')
    any_res = quiet_import('fastervit.models.faster_vit_any_res')
    for name in FASTERVIT_224:
        with on_meta():
            model = getattr(fixed, name)()
        record(models, name, 'FasterViT', name, {}, model)
    for resolution, windows in FASTERVIT_0_ANY_RES:
        kwargs = dict(resolution=list(resolution), window_size=list(windows))
        name = 'faster_vit_0_any_res_{}x{}_w{}'.format(
            *resolution, '_'.join(map(str, windows)))
        with on_meta():
            model = any_res.faster_vit_0_any_res(**kwargs)
        record(models, name, 'FasterViT', 'faster_vit_0_any_res', kwargs,
               model)
    for name, (module, resolution, windows,
               hat) in SMALL_FASTERVIT_CASES.items():
        kwargs = dict(
            SMALL_FASTERVIT,
            resolution=resolution,
            window_size=windows,
            hat=hat)
        cls = dict(faster_vit=fixed, faster_vit_any_res=any_res)[module]
        torch.manual_seed(0)
        model = cls.FasterViT(**kwargs)
        record(models, name, 'FasterViT', f'{module}.FasterViT', kwargs, model)
        h, w = (resolution,
                resolution) if isinstance(resolution, int) else resolution
        cases[name] = dict(
            model=name, kwargs={}, input=[1, 3, h, w], logits=run(model, h, w))
    return source(root, 'fastervit/models/faster_vit.py',
                  'fastervit/models/faster_vit_any_res.py')


def dgmn2(root, models):
    code = osp.join(root, 'classification')
    for ext in ('deform_conv_cuda', 'deform_pool_cuda'):
        sys.modules[f'dcn.{ext}'] = types.ModuleType(f'dcn.{ext}')
    sys.path.append(code)
    official = quiet_import('dgmn2')
    for arch in DGMN2_ARCHS:
        with on_meta():
            model = getattr(official, f'dgmn2_{arch}')()
        record(models, f'dgmn2_{arch}', 'DGMN2', f'dgmn2_{arch}', {}, model)
    return source(root, 'classification/dgmn2.py',
                  'classification/dgmn2_block.py',
                  'classification/dcn/modules/deform_unfold.py')


def versions():
    import timm
    return dict(torch=torch.__version__, timm=timm.__version__)


def write_state_dicts(path, header, models):
    """One line per state-dict entry; gzip without a time stamp, so that
    the same records give the same bytes."""
    lines = ['{']
    lines += [
        f'{json.dumps(k)}: {json.dumps(v, sort_keys=True)},'
        for k, v in header.items()
    ]
    lines.append('"models": {')
    for i, (name, entry) in enumerate(sorted(models.items())):
        meta = ', '.join(f'{json.dumps(k)}: {json.dumps(v)}'
                         for k, v in entry.items() if k != 'state_dict')
        lines.append(f'{json.dumps(name)}: {{{meta}, "state_dict": [')
        lines.append(',\n'.join(json.dumps(e) for e in entry['state_dict']))
        lines.append(']}' + (',' if i < len(models) - 1 else ''))
    lines.append('}}')
    text = '\n'.join(lines) + '\n'
    assert json.loads(text) == dict(header, models=models)
    with open(path, 'wb') as raw, gzip.GzipFile(
            filename='', mode='wb', fileobj=raw, mtime=0) as f:
        f.write(text.encode())


def write_logits(path, header, cases):
    text = json.dumps(dict(header, cases=cases), indent=1, sort_keys=True)
    # a list of numbers on one line
    text = re.sub(r'\[\s+([-+0-9.e,\s]+?)\s+\]',
                  lambda m: '[' + ' '.join(m[1].split()) + ']', text)
    assert json.loads(text) == dict(header, cases=cases)
    with open(path, 'w') as f:
        f.write(text + '\n')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--moganet', required=True, help='MogaNet checkout')
    parser.add_argument(
        '--fastervit', required=True, help='FasterViT checkout')
    parser.add_argument('--dgmn2', required=True, help='DGMN2 checkout')
    parser.add_argument(
        '--out', default=HERE, help='folder to write (tests/data)')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    models, cases = {}, {}
    sources = dict(
        moganet=dict(
            repo='Westlake-AI/MogaNet', **moganet(args.moganet, models,
                                                  cases)),
        fastervit=dict(
            repo='NVlabs/FasterViT',
            **fastervit(args.fastervit, models, cases)),
        dgmn2=dict(repo='fudan-zvg/DGMN2', **dgmn2(args.dgmn2, models)))
    header = dict(
        generator='tests/data/make_golden.py',
        sources=sources,
        versions=versions())
    write_state_dicts(
        osp.join(args.out, osp.basename(official_records.STATE_DICTS)), header,
        models)
    write_logits(
        osp.join(args.out, osp.basename(official_records.LOGITS)), header,
        cases)
    print(f'{len(models)} state dicts, {len(cases)} logit cases written to '
          f'{args.out}')


if __name__ == '__main__':
    main()
