"""The GPU half of the speed tables in one call on a bare lent GPU machine
(issue 26): Python 3.12 with torch (CUDA) and nvcc, no OpenMMLab package,
no network, at most 64 MiB carried.

Here, where PyPI answers::

    python tools/analysis_tools/gpu_kit.py fetch  # -> work_dirs/gpu_kit/wheels
    python tools/analysis_tools/gpu_kit.py check   # the dry run (also in CI)

There (the device tool, ``carry=["work_dirs/gpu_kit/wheels"]``)::

    python3 tools/analysis_tools/gpu_kit.py run --out "$OUT"

``fetch`` downloads every requirement of ``requirements/gpu_kit.txt`` as a
CPython 3.12 manylinux x86_64 wheel (pip's ``--python-version 3.12
--only-binary``), and mmcv as its source. ``check`` is the set-up logic
without installing or running anything: every requirement has exactly one
file that fits the target, wheels and working tree together fit the carry
limit, the arguments make sense; it prints the plan (nvcc or not, the time
boxes, the tables in order) and exits 1 naming what is wrong.

``run`` checks the same, installs the wheels into a temporary target
(``--no-index --no-deps``, nothing of the machine's own Python changes),
builds mmcv's ops there only if nvcc and a GPU are present, for the GPU's
CUDA arch only, with ``MAX_JOBS`` = the core count and within
``--build-time-box`` seconds (otherwise mmcv goes in without ops and the
tables drop the rows that need them, saying so), then runs
``tests/test_cuda.py`` and the tables of :data:`TABLES` in order (fp32 and
AMP inference, training, DGMN2's larger archs), each given what is left of
``--time-box``; a table that no longer fits is skipped and named. Every
table's JSON, the test log and ``summary.json`` (versions, the mmcv
outcome, each step's exit code and seconds) go under ``--out``.

``tables`` runs only the tables, in an environment that already has the
stack (``tools/analysis_tools/gpu_benchmark.sh`` is that, with .venv).
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REQUIREMENTS = osp.join(ROOT, 'requirements', 'gpu_kit.txt')
DEFAULT_WHEELS = osp.join(ROOT, 'work_dirs', 'gpu_kit', 'wheels')
#: what the device tool carries in one call: the working tree and the
#: carried paths together
CARRY_LIMIT = 64 * 2**20
TARGET_PYTHON = (3, 12)
TARGET_PLATFORMS = ('manylinux2014_x86_64', 'manylinux_2_17_x86_64',
                    'manylinux_2_28_x86_64')
#: seconds kept back at the end of --time-box for writing the summary
RESERVE = 15

BENCH = 'tools/analysis_tools/benchmark.py'
COMMON = [
    '--device', 'cuda', '--batch-size', '128', '--warmup', '5', '--iters',
    '20', '--rounds', '3'
]
MOGANET = 'configs/moganet/moganet-tiny_8xb128_in1k.py'
FASTERVIT = 'configs/fastervit/fastervit-0_32xb128_in1k.py'
DGMN2 = 'configs/dgmn2/dgmn2-{}_8xb128_in1k.py'


def _dgmn2_variants(amp, compiled=True):
    rows = [('grid_sample', 'model.backbone.sampler=grid_sample', False),
            ('dcn', 'model.backbone.sampler=dcn', True),
            ('pytorch', 'model.backbone.sampler=pytorch', False)]
    if compiled:
        rows += [('grid_sample+compile',
                  'model.backbone.sampler=grid_sample compile', False),
                 ('fused+compile', 'model.backbone.sampler=fused compile',
                  False),
                 ('dcn+compile', 'model.backbone.sampler=dcn compile', True)]
    return [(label, f'{items} {amp}'.strip(), ops)
            for label, items, ops in rows]


def _tables():
    """The tables in the order they run: name, config, extra arguments and
    the ``--compare`` variants as ``(label, items, needs_mmcv_ops)``."""
    tables = []
    for amp in ('', 'amp'):
        tag = amp or 'fp32'
        tables += [
            dict(
                name=f'moganet-t_{tag}',
                config=MOGANET,
                args=[],
                variants=[('eager', f'eager {amp}', False),
                          ('channels_last', f'channels_last {amp}', False),
                          ('compile', f'compile {amp}', False)]),
            dict(
                name=f'fastervit-0_{tag}',
                config=FASTERVIT,
                args=[],
                variants=[('eager', f'eager {amp}', False),
                          ('deploy', f'deploy {amp}', False),
                          ('compile', f'compile {amp}', False),
                          ('deploy+compile', f'deploy compile {amp}', False)]),
            dict(
                name=f'dgmn2-t_{tag}',
                config=DGMN2.format('tiny'),
                args=[],
                variants=_dgmn2_variants(amp)),
        ]
    for name, config in (('moganet-t', MOGANET), ('fastervit-0', FASTERVIT),
                         ('dgmn2-t', DGMN2.format('tiny'))):
        tables.append(
            dict(
                name=f'{name}_train',
                config=config,
                args=['--iters', '5', '--train'],
                variants=[('eager', 'eager', False), ('amp', 'amp', False),
                          ('compile+amp', 'compile amp', False)]))
    for arch in ('small', 'medium', 'large'):
        tables.append(
            dict(
                name=f'dgmn2-{arch[0]}_fp32',
                config=DGMN2.format(arch),
                args=['--iters', '10'],
                variants=_dgmn2_variants('', compiled=False)))
    return tables


#: the tables, in the order ``run`` and ``tables`` go through them
TABLES = _tables()


def table_command(table, out, python, with_ops):
    """The ``benchmark.py --compare`` command of ``table`` and the labels of
    the variants it leaves out (those that need mmcv's ops, when
    ``with_ops`` is false)."""
    kept = [(label, items) for label, items, ops in table['variants']
            if with_ops or not ops]
    dropped = [
        label for label, _, ops in table['variants'] if ops and not with_ops
    ]
    cmd = [
        python, BENCH, table['config'], *COMMON, *table['args'], '--json',
        osp.join(out, table['name'] + '.json'), '--compare'
    ]
    cmd += [f'{label}: {" ".join(items.split())}' for label, items in kept]
    return cmd, dropped


# ---------------------------------------------------------------- the wheels


def _norm(name):
    return re.sub(r'[-_.]+', '_', name).lower()


def read_requirements(path=REQUIREMENTS):
    """``[(name, version, is_source)]`` of the kit's requirements file: one
    ``name==version`` per line, ``--source`` for a source distribution."""
    reqs = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(
                r'([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s]+)'
                r'(\s+--source)?', line)
            if not m:
                raise ValueError(f'{path}:{lineno}: {line!r} is not '
                                 "'name==version' [--source]")
            reqs.append((m[1], m[2], bool(m[3])))
    return reqs


def wheel_fits(filename, python=TARGET_PYTHON):
    """Whether the wheel ``filename`` installs on CPython ``python`` on
    manylinux x86_64 (its tags, PEP 427)."""
    parts = filename[:-len('.whl')].split('-')
    if not filename.endswith('.whl') or len(parts) < 5:
        return False
    pys, abis, plats = (set(p.split('.')) for p in parts[-3:])
    cp = f'cp{python[0]}{python[1]}'
    py_ok = bool(pys & {cp, f'py{python[0]}', f'py{python[0]}{python[1]}'})
    abi_ok = bool(abis & {'none', cp})
    # the stable ABI: built for CPython 3.x, loads on every later 3.y
    older = {f'cp{python[0]}{m}' for m in range(2, python[1] + 1)}
    if 'abi3' in abis and pys & older:
        py_ok = abi_ok = True
    plat_ok = 'any' in plats or any(
        re.fullmatch(r'manylinux(1|2010|2014|_2_\d+)_x86_64', p)
        for p in plats)
    return py_ok and abi_ok and plat_ok


def find_files(wheels, reqs):
    """``({name: path}, [problems])``: the file of each requirement in the
    folder ``wheels``; a problem names a requirement with none, several or
    an unfitting file."""
    files, problems = {}, []
    present = os.listdir(wheels) if osp.isdir(wheels) else []
    for name, version, source in reqs:
        norm = _norm(name)
        if source:
            hits = [
                f for f in present if re.fullmatch(
                    rf'{re.escape(norm)}-{re.escape(version)}'
                    r'\.tar\.gz', _norm_file(f))
            ]
        else:
            hits = [
                f for f in present
                if f.endswith('.whl') and _norm(f.split('-')[0]) == norm
                and f.split('-')[1] == version
            ]
        if not hits:
            problems.append(f'{name}=={version}: no '
                            f'{"source archive" if source else "wheel"} in '
                            f'{wheels}')
        elif len(hits) > 1:
            problems.append(f'{name}=={version}: {len(hits)} files ('
                            f'{", ".join(sorted(hits))}); keep one')
        elif not source and not wheel_fits(hits[0]):
            problems.append(f'{hits[0]}: not for CPython '
                            f'{TARGET_PYTHON[0]}.{TARGET_PYTHON[1]} on '
                            'manylinux x86_64')
        else:
            files[name] = osp.join(wheels, hits[0])
    return files, problems


def _norm_file(filename):
    name, _, rest = filename.partition('-')
    return f'{_norm(name)}-{rest}'


def tree_size(root=ROOT):
    """Bytes of the working tree the device tool copies (git's tracked and
    untracked-but-not-ignored files); walks the folder without git."""
    try:
        out = subprocess.run([
            'git', 'ls-files', '-z', '--cached', '--others',
            '--exclude-standard'
        ],
                             cwd=root,
                             capture_output=True,
                             check=True).stdout.decode()
        paths = [p for p in out.split('\0') if p]
    except (OSError, subprocess.CalledProcessError):
        paths = [
            osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root)
            for f in fs
        ]
    return sum(
        osp.getsize(osp.join(root, p)) for p in paths
        if osp.isfile(osp.join(root, p)))


def fetch(args):
    reqs = read_requirements(args.requirements)
    os.makedirs(args.wheels, exist_ok=True)
    pip = [
        sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '-d',
        args.wheels
    ]
    binary = [
        '--only-binary', ':all:', '--implementation', 'cp', '--python-version',
        '.'.join(map(str, TARGET_PYTHON))
    ]
    for plat in TARGET_PLATFORMS:
        binary += ['--platform', plat]
    for name, version, source in reqs:
        spec = f'{name}=={version}'
        extra = (['--no-binary', ':all:', '--no-build-isolation']
                 if source else binary)
        print(f'[gpu_kit] fetch {spec}', flush=True)
        subprocess.run(pip + extra + [spec], check=True)
    return check(args)


# ---------------------------------------------------------------- the checks


def find_nvcc():
    """nvcc's path: on the PATH, or under ``$CUDA_HOME``; else None."""
    found = shutil.which('nvcc')
    home = os.environ.get('CUDA_HOME') or os.environ.get('CUDA_PATH')
    if not found and home and osp.isfile(osp.join(home, 'bin', 'nvcc')):
        found = osp.join(home, 'bin', 'nvcc')
    return found


def plan(args):
    """``(files, problems, lines)``: what ``run`` would use, what stops it
    and the plan in words."""
    problems = []
    if args.time_box < args.build_time_box + 60:
        problems.append(f'--time-box {args.time_box} s leaves under a minute '
                        f'after --build-time-box {args.build_time_box} s')
    if args.build_time_box < 0:
        problems.append('--build-time-box must be >= 0')
    try:
        reqs = read_requirements(args.requirements)
    except (OSError, ValueError) as e:
        return {}, problems + [str(e)], []
    files, missing = find_files(args.wheels, reqs)
    problems += missing
    carried = sum(osp.getsize(p) for p in files.values())
    tree = tree_size()
    if carried + tree > CARRY_LIMIT:
        problems.append(f'wheels {carried / 2**20:.1f} MiB + working tree '
                        f'{tree / 2**20:.1f} MiB exceed the '
                        f'{CARRY_LIMIT / 2**20:.0f} MiB carried per call')
    nvcc = find_nvcc()
    build = ('build mmcv ops with ' + nvcc + ' for this GPU\'s arch, '
             f'MAX_JOBS={os.cpu_count()}, within {args.build_time_box} s'
             if nvcc and args.build_time_box > 0 else 'mmcv without ops (' +
             ('--build-time-box 0' if nvcc else 'no nvcc') +
             '): the tables leave out the rows that need them')
    lines = [
        f'{len(files)}/{len(reqs)} requirements in {args.wheels}: '
        f'{carried / 2**20:.1f} MiB + working tree {tree / 2**20:.1f} MiB '
        f'(limit {CARRY_LIMIT / 2**20:.0f} MiB)',
        'install into a temporary target with --no-index --no-deps',
        build,
        f'pytest tests/test_cuda.py, then {len(TABLES)} tables within '
        f'--time-box {args.time_box} s: ' + ', '.join(t['name']
                                                      for t in TABLES),
        f'results under {args.out}',
    ]
    return files, problems, lines


def wheel_files(files):
    """The wheels among the files of :func:`find_files` (sources are
    ``.tar.gz``)."""
    return [p for p in files.values() if p.endswith('.whl')]


def try_install(files):
    """Install the wheels as the target Python would take them (pip's
    ``--python-version`` with ``--only-binary``, into a temporary folder
    that is then removed); returns a problem or None."""
    wheels = wheel_files(files)
    with tempfile.TemporaryDirectory(prefix='gpu-kit-dry-') as target:
        cmd = [
            sys.executable, '-m', 'pip', 'install', '-q', '--no-index',
            '--no-deps', '--only-binary', ':all:', '--implementation', 'cp',
            '--python-version', '.'.join(map(str, TARGET_PYTHON)), '--target',
            target
        ]
        for plat in TARGET_PLATFORMS + ('manylinux_2_24_x86_64', ):
            cmd += ['--platform', plat]
        done = subprocess.run(cmd + wheels, capture_output=True, text=True)
        if done.returncode:
            return ('pip refused the wheels: ' +
                    (done.stderr.strip().splitlines() or ['?'])[-1])
        absent = [
            pkg for pkg in ('mmengine', 'mmpretrain', 'mmdet', 'mmseg')
            if not osp.isdir(osp.join(target, pkg))
        ]
        if absent:
            return f'the wheels install no {", ".join(absent)}'
    return None


def check(args):
    files, problems, lines = plan(args)
    for line in lines:
        print(f'[gpu_kit] {line}')
    if not problems:
        problem = try_install(files)
        problems += [problem] if problem else []
        if not problem:
            print('[gpu_kit] the wheels install for CPython '
                  f'{TARGET_PYTHON[0]}.{TARGET_PYTHON[1]} (pip, into a '
                  'temporary target)')
    for p in problems:
        print(f'[gpu_kit] ERROR: {p}', file=sys.stderr)
    if problems:
        return 1
    print('[gpu_kit] dry run OK')
    return 0


# ---------------------------------------------------------------- the run


class Clock:

    def __init__(self, budget):
        self.end = time.monotonic() + budget

    def left(self):
        return self.end - time.monotonic()


def _step(summary, name, cmd, timeout, env, log):
    """Run ``cmd`` with ``timeout`` seconds, its output into ``log``; record
    exit code and seconds in ``summary['steps']``."""
    t = time.monotonic()
    print(
        f'[gpu_kit] {name}: {" ".join(cmd)} (at most {timeout:.0f} s)',
        flush=True)
    with open(log, 'a') as f:
        f.write(f'\n== {name}\n')
        f.flush()
        try:
            rc = subprocess.run(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=f,
                stderr=subprocess.STDOUT,
                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = 'timeout'
    seconds = round(time.monotonic() - t, 1)
    summary['steps'].append(dict(name=name, rc=rc, seconds=seconds))
    print(f'[gpu_kit] {name}: {rc} in {seconds} s', flush=True)
    return rc == 0


def _mmcv_ops_work(env):
    code = 'from mmcv.ops import modulated_deform_conv2d, nms'
    return subprocess.run([sys.executable, '-c', code],
                          env=env,
                          capture_output=True).returncode == 0


def _build_mmcv(sdist, target, tools, env, time_box, log, nvcc):
    """Install mmcv from ``sdist`` into ``target``: its ops built for this
    GPU within ``time_box`` seconds if ``time_box`` > 0, else (or when the
    build fails or runs out of time) without ops. Returns what happened."""
    import torch
    src_root = tempfile.mkdtemp(prefix='mmcv-src-')
    with tarfile.open(sdist) as tar:
        tar.extractall(src_root, filter='data')
    src = glob.glob(osp.join(src_root, 'mmcv-*'))[0]
    setup_py = osp.join(src, 'setup.py')
    if tuple(int(v)
             for v in torch.__version__.split('+')[0].split('.')[:2]) >= (2,
                                                                          10):
        # torch >= 2.10 headers need C++20; mmcv 2.1.0 says -std=c++17
        with open(setup_py) as f:
            text = f.read()
        with open(setup_py, 'w') as f:
            f.write(text.replace('-std=c++17', '-std=c++20'))
    pip = [
        sys.executable, '-m', 'pip', 'install', '--no-index', '--no-deps',
        '--no-build-isolation', '--target', target, src
    ]
    env = dict(env, PYTHONPATH=os.pathsep.join([tools, env['PYTHONPATH']]))
    outcome = None
    if time_box > 0 and nvcc and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability()
        build_env = dict(
            env,
            MMCV_WITH_OPS='1',
            FORCE_CUDA='1',
            TORCH_CUDA_ARCH_LIST=f'{major}.{minor}',
            MAX_JOBS=str(os.cpu_count()))
        t = time.monotonic()
        with open(log, 'a') as f:
            f.write('\n== mmcv build\n')
            f.flush()
            try:
                rc = subprocess.run(
                    pip,
                    env=build_env,
                    stdout=f,
                    stderr=subprocess.STDOUT,
                    timeout=time_box).returncode
            except subprocess.TimeoutExpired:
                rc = None
        seconds = time.monotonic() - t
        if rc == 0 and _mmcv_ops_work(env):
            return f'ops built for sm_{major}{minor} in {seconds:.0f} s'
        outcome = (f'ops build ran out of its {time_box} s'
                   if rc is None else f'ops build failed (exit {rc}, '
                   'see kit.log)')
    elif time_box > 0 and not nvcc:
        outcome = 'no nvcc on the PATH or in $CUDA_HOME: ops not built'
    elif time_box > 0:
        outcome = 'no GPU visible to torch: ops not built'
    else:
        outcome = '--build-time-box 0: ops not built'
    subprocess.run(
        pip, env=dict(env, MMCV_WITH_OPS='0'), check=True, capture_output=True)
    return outcome + '; mmcv installed without ops'


def run_tables(args, env, with_ops, clock, summary, log):
    ok = True
    for table in TABLES:
        left = clock.left() - RESERVE
        if left < 60:
            summary['skipped'].append(table['name'])
            print(
                f'[gpu_kit] {table["name"]}: skipped, '
                f'{max(left, 0):.0f} s left of --time-box',
                flush=True)
            continue
        cmd, dropped = table_command(table, args.out, sys.executable, with_ops)
        if dropped:
            summary['dropped_rows'][table['name']] = dropped
        ok &= _step(summary, table['name'], cmd, left, env, log)
    return ok


def _summary():
    import torch
    return dict(
        python=sys.version.split()[0],
        torch=torch.__version__,
        cuda=torch.version.cuda,
        gpu=(torch.cuda.get_device_name()
             if torch.cuda.is_available() else None),
        cores=os.cpu_count(),
        steps=[],
        skipped=[],
        dropped_rows={})


def _write_summary(args, summary):
    path = osp.join(args.out, 'summary.json')
    with open(path, 'w') as f:
        json.dump(summary, f, indent=1)
    print(f'[gpu_kit] summary: {path}')
    for name in sorted(glob.glob(osp.join(args.out, '*.json'))):
        if name != path:
            print(f'[gpu_kit] table: {name}')


def run(args):
    clock = Clock(args.time_box)
    files, problems, lines = plan(args)
    for line in lines:
        print(f'[gpu_kit] {line}', flush=True)
    if problems:
        for p in problems:
            print(f'[gpu_kit] ERROR: {p}', file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    log = osp.join(args.out, 'kit.log')
    summary = _summary()
    target = tempfile.mkdtemp(prefix='mogazoo-gpu-kit-')
    tools = osp.join(target, '_build_tools')
    wheels = wheel_files(files)
    build_only = [
        p for p in wheels if osp.basename(p).startswith('setuptools-')
    ]
    pip = [
        sys.executable, '-m', 'pip', 'install', '-q', '--no-index', '--no-deps'
    ]
    subprocess.run(pip + ['--target', tools] + build_only, check=True)
    subprocess.run(
        pip + ['--target', target] +
        [p for p in wheels if p not in build_only],
        check=True)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [target, ROOT, os.environ.get('PYTHONPATH',
                                          '')]).rstrip(os.pathsep))
    summary['mmcv'] = _build_mmcv(files['mmcv'], target, tools, env,
                                  args.build_time_box, log, find_nvcc())
    print(f'[gpu_kit] mmcv: {summary["mmcv"]}', flush=True)
    with_ops = _mmcv_ops_work(env)
    ok = _step(summary, 'tests/test_cuda.py', [
        sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
        'tests/test_cuda.py'
    ], max(clock.left() - RESERVE - 60, 60), env, log)
    ok &= run_tables(args, env, with_ops, clock, summary, log)
    _write_summary(args, summary)
    return 0 if ok else 1


def tables(args):
    os.makedirs(args.out, exist_ok=True)
    summary = _summary()
    from mogazoo.models.utils import deform_unfold
    ok = run_tables(args,
                    dict(os.environ), deform_unfold.mmcv_available('cuda'),
                    Clock(args.time_box), summary,
                    osp.join(args.out, 'kit.log'))
    _write_summary(args, summary)
    return 0 if ok else 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('command', choices=['fetch', 'check', 'run', 'tables'])
    parser.add_argument(
        '--wheels',
        default=DEFAULT_WHEELS,
        help='folder of the carried wheels (default: %(default)s)')
    parser.add_argument('--requirements', default=REQUIREMENTS)
    parser.add_argument(
        '--out',
        default=osp.join(ROOT, 'work_dirs', 'gpu_kit', 'out'),
        help='where the JSON tables, kit.log and summary.json go')
    parser.add_argument(
        '--time-box',
        type=int,
        default=540,
        help='seconds for the whole run, set-up included (default: '
        '%(default)s, under the device tool\'s 600 s a call)')
    parser.add_argument(
        '--build-time-box',
        type=int,
        default=300,
        help='seconds for building mmcv\'s ops; 0 installs mmcv without '
        'them (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.out = osp.abspath(args.out)
    return dict(
        fetch=fetch, check=check, run=run, tables=tables)[args.command](
            args)


if __name__ == '__main__':
    sys.exit(main())
