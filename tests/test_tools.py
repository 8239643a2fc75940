"""End to end through the real tools on a digits subset: one real process
each for tools/train.py, tools/test.py and the dist scripts, so that their
command lines stay tested; the other runs call ``main(argv)`` here."""
import json
import os
import pickle
import random
import re
import subprocess
import sys
import uuid

import pytest
import torch

import mogazoo  # noqa: F401  (loads mmengine checkpoints with weights_only)
from runner_utils import load_tool, tool_exit

CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'


def overrides(data_root, epochs, **extra):
    opts = {
        # a name of its own: runs in this process share mmengine's loggers
        'experiment_name': f'tools_{uuid.uuid4().hex[:8]}',
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'train_dataloader.batch_size': 32,
        'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': 1,
        'default_hooks.logger.interval': 2,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.checkpoint.save_best': None,
    }
    opts.update(extra)
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def run(root, *args, check=True, env=None):
    res = subprocess.run([*args],
                         cwd=root,
                         capture_output=True,
                         text=True,
                         env={
                             **os.environ,
                             **(env or {})
                         },
                         timeout=900)
    if check and res.returncode != 0:
        raise AssertionError(f'{args} failed:\n{res.stdout[-3000:]}\n'
                             f'{res.stderr[-3000:]}')
    return res


def scalars(work_dir):
    [run_dir] = [d for d in os.listdir(work_dir) if re.match(r'\d{8}_', d)]
    with open(os.path.join(work_dir, run_dir, 'vis_data',
                           'scalars.json')) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def trained(root, digits_subset, tmp_path_factory):
    work = tmp_path_factory.mktemp('train')
    run(root, sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(work), *overrides(digits_subset, 2))
    return work


def test_train_logs_loss_throughput_and_saves(trained):
    logs = scalars(trained)
    train = [r for r in logs if 'loss' in r]
    assert train and all(r['images_per_sec'] > 0 for r in train)
    assert all(r['peak_mem_mb'] > 0 for r in train)
    first = sum(r['loss'] for r in train[:3]) / 3
    last = sum(r['loss'] for r in train[-3:]) / 3
    assert last < first, (first, last)
    assert (trained / 'epoch_2.pth').exists()
    assert any('accuracy/top1' in r for r in logs)


def test_test_tool_metrics_match_dumped_predictions(root, trained,
                                                    digits_subset, tmp_path):
    out = tmp_path / 'preds.pkl'
    res = run(root, sys.executable, 'tools/test.py', CONFIG,
              str(trained / 'epoch_2.pth'), '--work-dir', str(tmp_path),
              '--out', str(out), *overrides(digits_subset, 2))
    reported = float(
        re.search(r'accuracy/top1: ([\d.]+)', res.stdout + res.stderr)[1])
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 100
    correct = sum(
        int(p['pred_label'].item() == p['gt_label'].item()) for p in preds)
    assert reported == pytest.approx(correct, abs=0.01)


def test_resume_continues(root, trained, digits_subset, monkeypatch):
    monkeypatch.chdir(root)
    load_tool('tools/train.py').main([
        CONFIG, '--work-dir',
        str(trained), '--resume', *overrides(digits_subset, 3)
    ])
    [log] = [
        p for p in trained.glob('*/*.log')
        if 'resumed epoch: 2' in p.read_text().replace('Resumed', 'resumed')
    ]
    ckpt = torch.load(
        trained / 'epoch_3.pth', map_location='cpu', weights_only=True)
    assert ckpt['meta']['epoch'] == 3
    # the resumed run went on from iteration 2 * 10 = 20
    assert ckpt['meta']['iter'] == 30


def test_dist_train_two_cpu_processes(root, digits_subset, tmp_path):
    port = str(random.randint(20000, 40000))
    res = run(
        root,
        'bash',
        'tools/dist_train.sh',
        CONFIG,
        '2',
        '--work-dir',
        str(tmp_path),
        *overrides(digits_subset, 1),
        env={
            'PORT': port,
            'PYTHON': sys.executable
        })
    assert (tmp_path / 'epoch_1.pth').exists(), res.stdout[-2000:]
    ckpt = torch.load(
        tmp_path / 'epoch_1.pth', map_location='cpu', weights_only=True)
    # 300 images over 2 processes x 32 per batch = 5 iterations per epoch
    assert ckpt['meta']['iter'] == 5


@pytest.mark.parametrize(
    'case', ['config', 'data', 'arch', 'ckpt_missing', 'ckpt_corrupt', 'key'])
def test_bad_inputs_name_the_culprit(case, root, digits_subset, tmp_path,
                                     monkeypatch):
    monkeypatch.chdir(root)
    if case == 'config':
        msg = tool_exit('tools/train.py', 'configs/nope.py')
        culprit = 'configs/nope.py'
    elif case == 'data':
        msg = tool_exit('tools/train.py', CONFIG, '--work-dir', tmp_path,
                        *overrides('/no/such/digits', 1))
        culprit = '/no/such/digits'
    elif case == 'arch':
        msg = tool_exit('tools/train.py', CONFIG, '--work-dir', tmp_path,
                        *overrides(digits_subset, 1),
                        'model.backbone.arch=gigantic')
        culprit = 'gigantic'
    elif case == 'ckpt_missing':
        msg = tool_exit('tools/test.py', CONFIG, tmp_path / 'x.pth')
        culprit = 'x.pth'
    elif case == 'ckpt_corrupt':
        bad = tmp_path / 'corrupt.pth'
        torch.save({'state_dict': {'w': torch.zeros(1000)}}, bad)
        bad.write_bytes(bad.read_bytes()[:-200])
        msg = tool_exit('tools/test.py', CONFIG, bad)
        culprit = 'corrupt.pth'
    else:
        msg = tool_exit('tools/train.py', CONFIG, '--work-dir', tmp_path,
                        *overrides(digits_subset, 1),
                        'model.backbone.type=MogaNetX')
        culprit = 'MogaNetX'
    assert isinstance(msg, str), msg  # sys.exit(message): exit status 1
    assert culprit in msg.splitlines()[-1], msg


def test_dist_test_two_cpu_processes_agrees(root, trained, digits_subset,
                                            tmp_path, monkeypatch):
    port = str(random.randint(20000, 40000))
    res = run(
        root,
        'bash',
        'tools/dist_test.sh',
        CONFIG,
        str(trained / 'epoch_2.pth'),
        '2',
        '--work-dir',
        str(tmp_path),
        *overrides(digits_subset, 2),
        env={
            'PORT': port,
            'PYTHON': sys.executable
        })
    dist = float(
        re.search(r'accuracy/top1: ([\d.]+)', res.stdout + res.stderr)[1])
    monkeypatch.chdir(root)
    single = load_tool('tools/test.py').main([
        CONFIG,
        str(trained / 'epoch_2.pth'), '--work-dir',
        str(tmp_path), *overrides(digits_subset, 2)
    ])
    assert dist == pytest.approx(single['accuracy/top1'], abs=1e-4)


def test_versions_are_pinned_once(root):
    """requirements/mminstall.txt pins the OpenMMLab stack; check_env.py
    and setup_env.sh read it there (mmcv was written in four places)."""
    with open(f'{root}/requirements/mminstall.txt') as f:
        pins = dict(re.findall(r'^([\w-]+)==(\S+)', f.read(), re.M))
    check_env = load_tool('tools/check_env.py')
    assert check_env.read_pins() == {
        {
            'mmsegmentation': 'mmseg'
        }.get(k, k): v
        for k, v in pins.items()
    }
    for path in ('tools/setup_env.sh', 'tools/check_env.py'):
        with open(f'{root}/{path}') as f:
            text = f.read()
        for name, version in pins.items():
            assert f"'{version}'" not in text and f'={version}' not in text, \
                (path, name)
    res = run(
        root, 'bash', '-c', 'ROOT=$PWD; eval "$(grep ^MMCV_VERSION= '
        'tools/setup_env.sh)"; echo "$MMCV_VERSION"')
    assert res.stdout.strip() == pins['mmcv']


@pytest.mark.slow
def test_dist_scripts_use_the_project_venv(root, tmp_path):
    """`tools/dist_test.sh CONFIG CKPT 2` typed with nothing set up: no
    PYTHON, a PATH whose python (if any) has no torch. The launcher takes
    <repo>/.venv (what make setup made); PYTHON still wins."""
    venv_python = os.path.join(root, '.venv', 'bin', 'python')
    if not os.path.isfile(venv_python):
        pytest.skip('no .venv in the checkout (make setup makes it)')
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('PYTHON', 'MOGAZOO_VENV', 'VIRTUAL_ENV')
    }
    env.update(PATH='/usr/bin:/bin', PORT=str(29900 + os.getpid() % 90))
    missing = tmp_path / 'none.py'
    res = subprocess.run(
        ['bash', 'tools/dist_test.sh',
         str(missing), 'x.pth', '2'],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert 'No module named' not in out, out[-2000:]
    assert 'test.py: error: Checkpoint not found: x.pth' in out, out[-2000:]
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\necho "the PYTHON given: $*"\nexit 3\n')
    fake.chmod(0o755)
    res = subprocess.run(
        ['bash', 'tools/dist_test.sh',
         str(missing), 'x.pth', '2'],
        cwd=root,
        capture_output=True,
        text=True,
        env=dict(env, PYTHON=str(fake)),
        timeout=60)
    assert 'the PYTHON given' in res.stdout and res.returncode != 0


@pytest.mark.slow
def test_setup_names_the_mmcv_origin_and_an_unused_wheelhouse(root, tmp_path):
    """tools/setup_env.sh says where the installed mmcv came from, and why a
    MOGAZOO_WHEELHOUSE it was given is not used (issue 27 item 3)."""
    if not os.path.isfile(os.path.join(root, '.venv', 'bin', 'python')):
        pytest.skip('no .venv in the checkout (make setup makes it)')
    res = run(
        root,
        'bash',
        'tools/setup_env.sh',
        env={
            'MOGAZOO_WHEELHOUSE': str(tmp_path),
            'MOGAZOO_NO_APT': '1'
        })
    out = res.stdout
    assert re.search(
        r'\[setup\]   mmcv: (the cached wheel|the wheelhouse '
        r'wheel|built here)', out), out
    assert f'MOGAZOO_WHEELHOUSE={tmp_path} not used' in out, out
