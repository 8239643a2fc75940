"""The GPU kit's set-up logic, on the CPU (tools/analysis_tools/gpu_kit.py):
its requirements, wheel tags, carry limit, arguments and tables, and the dry
run on the real wheels (``gpu_kit.py fetch``; .ci/run fetches them and sets
``MOGAZOO_REQUIRE_GPU_KIT=1`` so that the test runs there, not skips)."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
KIT = osp.join(ROOT, 'tools', 'analysis_tools', 'gpu_kit.py')


def load_kit():
    spec = importlib.util.spec_from_file_location('gpu_kit', KIT)
    kit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kit)
    return kit


kit = load_kit()


def args_for(tmp_path, *extra):
    return kit.parse_args([
        'check', '--wheels',
        str(tmp_path), '--out',
        str(tmp_path / 'out'), *extra
    ])


def test_requirements_pin_every_line_and_name_a_bad_one(tmp_path):
    reqs = kit.read_requirements()
    names = {n for n, _, _ in reqs}
    assert {
        'mmengine', 'mmpretrain', 'mmdet', 'mmsegmentation', 'mmcv',
        'setuptools'
    } <= names
    assert [n for n, _, source in reqs if source] == ['mmcv']
    # the stack's versions are those of the repo's own pins
    with open(osp.join(ROOT, 'requirements', 'mminstall.txt')) as f:
        pins = dict(line.strip().split('==') for line in f
                    if '==' in line and not line.startswith('#'))
    for name, version, _ in reqs:
        if name in pins:
            assert pins[name] == version, name
    bad = tmp_path / 'req.txt'
    bad.write_text('mmengine==0.10.7\nmmpretrain>=1\n')
    with pytest.raises(ValueError, match=r'req.txt:2: .mmpretrain>=1.'):
        kit.read_requirements(str(bad))


@pytest.mark.parametrize('name, fits', [
    ('mmdet-3.3.0-py3-none-any.whl', True),
    ('mat4py-0.6.0-py2.py3-none-any.whl', True),
    ('shapely-2.2.0-cp312-cp312-manylinux_2_24_x86_64.manylinux_2_28_x86_64'
     '.whl', True),
    ('wcwidth-0.9.4-cp310-abi3-manylinux2014_x86_64.whl', True),
    ('shapely-2.2.0-cp311-cp311-manylinux_2_28_x86_64.whl', False),
    ('shapely-2.2.0-cp312-cp312-macosx_11_0_arm64.whl', False),
    ('shapely-2.2.0-cp312-cp312-manylinux_2_28_aarch64.whl', False),
    ('wcwidth-0.9.4-cp313-abi3-manylinux2014_x86_64.whl', False),
    ('mmcv-2.1.0.tar.gz', False),
])
def test_wheel_tags_for_cpython_312_manylinux(name, fits):
    assert kit.wheel_fits(name) is fits


def fake_wheels(folder, reqs, size=10):
    for name, version, source in reqs:
        norm = kit._norm(name)
        fname = (f'{name}-{version}.tar.gz'
                 if source else f'{norm}-{version}-py3-none-any.whl')
        (folder / fname).write_bytes(b'x' * size)


def test_plan_names_a_missing_a_doubled_and_a_foreign_wheel(tmp_path):
    reqs = kit.read_requirements()
    fake_wheels(tmp_path, reqs)
    files, problems, lines = kit.plan(args_for(tmp_path))
    assert problems == [] and len(files) == len(reqs)
    assert 'tests/test_cuda.py' in lines[3]
    assert all(t['name'] in lines[3] for t in kit.TABLES)
    os.remove(tmp_path / 'mmdet-3.3.0-py3-none-any.whl')
    (tmp_path / 'addict-2.4.0-py2-none-any.whl').write_bytes(b'x')
    os.rename(tmp_path / 'termcolor-3.3.0-py3-none-any.whl',
              tmp_path / 'termcolor-3.3.0-cp311-cp311-win_amd64.whl')
    _, problems, _ = kit.plan(args_for(tmp_path))
    text = '\n'.join(problems)
    assert 'mmdet==3.3.0: no wheel in' in text
    assert 'addict==2.4.0: 2 files' in text
    assert 'termcolor-3.3.0-cp311-cp311-win_amd64.whl: not for CPython 3.12'\
        in text
    assert kit.check(args_for(tmp_path)) == 1


def test_plan_refuses_what_exceeds_the_carry_limit(tmp_path, monkeypatch):
    fake_wheels(tmp_path, kit.read_requirements(), size=1000)
    tree = kit.tree_size()
    assert tree > 0
    monkeypatch.setattr(kit, 'CARRY_LIMIT', tree + 500)
    _, problems, _ = kit.plan(args_for(tmp_path))
    assert len(problems) == 1 and 'exceed the' in problems[0]
    assert 'MiB carried per call' in problems[0]


def test_time_boxes_are_checked(tmp_path):
    fake_wheels(tmp_path, kit.read_requirements())
    _, problems, _ = kit.plan(
        args_for(tmp_path, '--time-box', '300', '--build-time-box', '300'))
    assert problems == [
        '--time-box 300 s leaves under a minute after --build-time-box 300 s'
    ]
    with pytest.raises(SystemExit):
        kit.parse_args(['install'])


def test_tables_leave_out_only_the_rows_that_need_mmcv_ops(tmp_path):
    table = next(t for t in kit.TABLES if t['name'] == 'dgmn2-t_amp')
    cmd, dropped = kit.table_command(table, str(tmp_path), 'py', False)
    assert dropped == ['dcn', 'dcn+compile']
    specs = cmd[cmd.index('--compare') + 1:]
    assert 'grid_sample: model.backbone.sampler=grid_sample amp' in specs
    assert not any('sampler=dcn' in s for s in specs)
    assert cmd[cmd.index('--json') + 1] == str(tmp_path / 'dgmn2-t_amp.json')
    cmd, dropped = kit.table_command(table, str(tmp_path), 'py', True)
    assert dropped == [] and 'dcn+compile: model.backbone.sampler=dcn ' \
        'compile amp' in cmd
    # every table's config exists and its variants parse as benchmark.py's
    spec = importlib.util.spec_from_file_location(
        'bench', osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for table in kit.TABLES:
        assert osp.isfile(osp.join(ROOT, table['config'])), table['config']
        cmd, _ = kit.table_command(table, str(tmp_path), 'py', True)
        for s in cmd[cmd.index('--compare') + 1:]:
            bench.parse_spec(s)


def test_run_stops_before_installing_when_the_check_fails(tmp_path):
    out = tmp_path / 'out'
    done = subprocess.run([
        sys.executable, KIT, 'run', '--wheels',
        str(tmp_path / 'none'), '--out',
        str(out)
    ],
                          capture_output=True,
                          text=True)
    assert done.returncode == 1
    assert 'mmengine==0.10.7: no wheel in' in done.stderr
    assert not out.exists()


def test_dry_run_on_the_fetched_wheels():
    wheels = kit.DEFAULT_WHEELS
    if not osp.isdir(wheels):
        if os.environ.get('MOGAZOO_REQUIRE_GPU_KIT') == '1':
            pytest.fail(f'{wheels} is missing: .ci/run fetches it '
                        '(gpu_kit.py fetch)')
        pytest.skip('no fetched wheels (python tools/analysis_tools/'
                    'gpu_kit.py fetch)')
    done = subprocess.run([sys.executable, KIT, 'check'],
                          capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert 'the wheels install for CPython 3.12' in done.stdout
    assert 'dry run OK' in done.stdout


def test_mmcv_without_nvcc_goes_in_without_ops(tmp_path):
    """The kit's mmcv step on a machine without nvcc: mmcv from the carried
    source into a target, with the carried setuptools, no ops; the outcome
    says why."""
    wheels = kit.DEFAULT_WHEELS
    files, problems = kit.find_files(wheels, kit.read_requirements())
    if problems:
        if os.environ.get('MOGAZOO_REQUIRE_GPU_KIT') == '1':
            pytest.fail('; '.join(problems))
        pytest.skip('no fetched wheels (gpu_kit.py fetch)')
    target, tools = tmp_path / 'site', tmp_path / 'tools'
    subprocess.run([
        sys.executable, '-m', 'pip', 'install', '-q', '--no-index',
        '--no-deps', '--target',
        str(tools), files['setuptools']
    ],
                   check=True)
    env = dict(os.environ, PYTHONPATH=str(target))
    outcome = kit._build_mmcv(files['mmcv'], str(target), str(tools), env, 300,
                              str(tmp_path / 'kit.log'), None)
    assert outcome == ('no nvcc on the PATH or in $CUDA_HOME: ops not built; '
                       'mmcv installed without ops')
    assert (target / 'mmcv' / '__init__.py').is_file()
    assert not list((target / 'mmcv').glob('_ext*'))
