"""Runs that are killed, refused the disk, or started twice (issue 28 item
4): the newest complete checkpoint survives and resumes, two runs never
share a work dir, a dead DDP rank ends the job. Each test runs
tools/train.py in a process of its own (minutes in all: marked slow, run
by make test-all and CI)."""
import glob
import os
import os.path as osp
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from mogazoo.checkpoint import check_checkpoint
from mogazoo.engine.runner import lock_work_dir

pytestmark = pytest.mark.slow
HERE = osp.dirname(osp.abspath(__file__))
CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'


def options(data_root, epochs=3, workers=0):
    opts = {
        'train_dataloader.batch_size': 32,
        'train_dataloader.num_workers': workers,
        'train_dataloader.persistent_workers': workers > 0,
        'train_dataloader.dataset.indices': 64,
        'train_cfg.max_epochs': epochs,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.checkpoint.save_best': None,
        'default_hooks.logger.interval': 1,
    }
    for loader in ('train', 'val', 'test'):
        opts[f'{loader}_dataloader.dataset.data_root'] = data_root
    return ['--no-validate', '--cfg-options'
            ] + [f'{k}={v}' for k, v in opts.items()]


def child_config(tmp_path, root, *imports):
    """A config of the digits run that also imports ``imports``."""
    path = tmp_path / 'faulty.py'
    path.write_text(f'_base_ = [{osp.join(root, CONFIG)!r}]\n'
                    f"custom_imports = dict(imports={['mogazoo', *imports]!r},"
                    ' allow_failed_imports=False)\n')
    return str(path)


def start_train(root, config, work_dir, data_root, *extra, env=None, **kw):
    return subprocess.Popen([
        sys.executable, 'tools/train.py', config, '--work-dir',
        str(work_dir), *options(data_root, **kw), *extra
    ],
                            cwd=root,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True,
                            env={
                                **os.environ, 'PYTHONPATH': HERE,
                                **(env or {})
                            },
                            start_new_session=True)


def wait_for(predicate, proc, timeout=240):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def kill9(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def assert_checkpoints_complete(work_dir):
    """Every epoch_*.pth loads, and last_checkpoint names one of them."""
    ckpts = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')))
    for path in ckpts:
        check_checkpoint(path)
        assert 'state_dict' in torch.load(path, map_location='cpu')
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() in ckpts
    return ckpts


def resume_to_the_end(root, work_dir, data_root, epochs=3):
    res = subprocess.run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(work_dir), '--resume', *options(data_root, epochs)
    ],
                         cwd=root,
                         capture_output=True,
                         text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert 'Removed' in res.stdout + res.stderr or not glob.glob(
        osp.join(work_dir, '*.tmp'))
    assert not glob.glob(osp.join(work_dir, '*.tmp'))
    assert osp.basename(assert_checkpoints_complete(work_dir)[-1]) == \
        f'epoch_{epochs}.pth'


def test_kill9_during_a_checkpoint_write_then_resume(root, digits_subset,
                                                     tmp_path):
    work_dir = tmp_path / 'work'
    proc = start_train(root, child_config(tmp_path, root, 'slow_save'),
                       work_dir, digits_subset)
    # the second checkpoint (epoch 2) is half written when the sign appears
    half = osp.join(work_dir, 'epoch_2.pth.tmp.half')
    assert wait_for(lambda: osp.exists(half), proc), proc.stdout.read()
    kill9(proc)
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth.tmp'))  # the torso
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))
    assert [osp.basename(p)
            for p in assert_checkpoints_complete(work_dir)] == ['epoch_1.pth']
    os.remove(half)
    resume_to_the_end(root, work_dir, digits_subset)


def test_kill9_at_a_random_point_then_resume(root, digits_subset, tmp_path):
    work_dir = tmp_path / 'work'
    proc = start_train(root, CONFIG, work_dir, digits_subset)
    first = osp.join(work_dir, 'epoch_1.pth')
    assert wait_for(lambda: osp.exists(first), proc), proc.stdout.read()
    time.sleep(random.Random(os.getpid()).uniform(0, 1.5))
    kill9(proc)
    assert_checkpoints_complete(work_dir)
    resume_to_the_end(root, work_dir, digits_subset)


def test_a_killed_dataloader_worker_ends_the_run_in_one_line(
        root, digits_subset, tmp_path):
    """A DataLoader worker killed with -9 (what the kernel's OOM killer
    does): the run stops within a minute with one line naming the worker,
    exit 1, the checkpoints written before it complete; --resume ends the
    run."""
    work_dir = tmp_path / 'work'
    proc = start_train(
        root, CONFIG, work_dir, digits_subset, workers=2, epochs=6)
    workers = []

    def workers_up():
        if not osp.exists(osp.join(work_dir, 'epoch_1.pth')):
            return False
        found = subprocess.run(['pgrep', '-P', str(proc.pid)],
                               capture_output=True,
                               text=True).stdout.split()
        workers[:] = [int(p) for p in found]
        return len(workers) >= 2

    assert wait_for(workers_up, proc), proc.stdout.read()
    os.kill(workers[0], signal.SIGKILL)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        kill9(proc)
        pytest.fail('the run did not stop within a minute of a dead worker')
    assert proc.returncode == 1, out[-3000:]
    last = out.strip().splitlines()[-1]
    assert last.startswith('train.py: error: DataLoader worker'), last
    assert str(workers[0]) in last and '--resume' in last, last
    assert 'Traceback' not in out
    ckpts = assert_checkpoints_complete(work_dir)
    assert len(ckpts) < 6 and not glob.glob(osp.join(work_dir, '*.tmp'))
    resume_to_the_end(root, work_dir, digits_subset, epochs=6)


@pytest.mark.parametrize('errno_name', ['ENOSPC', 'EROFS'])
def test_full_or_read_only_disk_keeps_the_last_checkpoint(
        root, digits_subset, tmp_path, errno_name):
    """The second checkpoint write fails (a full disk, a work dir turned
    read-only): one line, exit 1, epoch_1 intact and named in
    last_checkpoint, no partial file."""
    work_dir = tmp_path / 'work'
    proc = start_train(
        root,
        child_config(tmp_path, root, 'failing_save'),
        work_dir,
        digits_subset,
        env={'FAILING_SAVE_ERRNO': errno_name})
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, out[-3000:]
    last = out.strip().splitlines()[-1]
    assert last.startswith('train.py: error: ') and errno_name in last, last
    assert 'Traceback' not in out
    assert [osp.basename(p)
            for p in assert_checkpoints_complete(work_dir)] == ['epoch_1.pth']
    assert not glob.glob(osp.join(work_dir, '*.tmp'))


def test_a_second_run_in_one_work_dir_is_refused(root, digits_subset,
                                                 tmp_path):
    work_dir = tmp_path / 'work'
    lock_work_dir(str(work_dir))  # this process is the first run
    res = subprocess.run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(work_dir), *options(digits_subset)
    ],
                         cwd=root,
                         capture_output=True,
                         text=True,
                         timeout=300)
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert f'Another run (pid {os.getpid()})' in last, res.stderr[-2000:]
    assert str(work_dir) in last
    assert not glob.glob(osp.join(work_dir, '*.pth'))


def test_a_killed_ddp_rank_ends_the_job(root, digits_subset, tmp_path):
    """tools/dist_train.sh CONFIG 2; rank 1 killed with -9: the job exits
    != 0 within 2 minutes and leaves no process behind."""
    work_dir = tmp_path / 'work'
    port = str(29600 + os.getpid() % 300)
    proc = subprocess.Popen([
        'bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
        str(work_dir), *options(digits_subset, epochs=400)
    ],
                            cwd=root,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True,
                            env={
                                **os.environ, 'PORT': port,
                                'PYTHON': sys.executable
                            },
                            start_new_session=True)
    ranks = []

    def two_ranks_training():
        # torchrun (proc, exec'd by the scripts) starts each rank in a
        # session of its own: its children are the ranks
        if not glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
            return False
        found = subprocess.run(['pgrep', '-P', str(proc.pid)],
                               capture_output=True,
                               text=True).stdout.split()
        ranks[:] = [int(p) for p in found]
        return len(ranks) >= 2

    assert wait_for(two_ranks_training, proc, timeout=300), proc.stdout.read()
    t0 = time.time()
    os.kill(ranks[-1], signal.SIGKILL)
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        kill9(proc)
        pytest.fail('the job did not end within 2 minutes of a dead rank')
    assert proc.returncode != 0
    assert time.time() - t0 < 120
    time.sleep(1)
    left = []
    for pid in ranks:
        try:
            os.kill(pid, 0)
            left.append(pid)
        except ProcessLookupError:
            pass
    assert not left, f'processes left behind: {left}'


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of its own (a real file system that can be made full or
    read-only; root ignores a read-only chmod). Skipped where mounting is
    not permitted."""
    disk = tmp_path / 'disk'
    disk.mkdir()
    res = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=256m', 'tmpfs',
         str(disk)],
        capture_output=True,
        text=True)
    if res.returncode:
        pytest.skip(f'cannot mount a tmpfs here: {res.stderr.strip()}')

    def remount(opts):
        subprocess.run(['mount', '-o', f'remount,{opts}',
                        str(disk)],
                       check=True)

    yield disk, remount
    subprocess.run(['umount', '-l', str(disk)])


def test_a_real_read_only_then_full_disk(root, digits_subset, small_disk):
    """The injected faults above on a real file system: a run resumed in a
    work dir mounted read-only, then one whose disk fills up before its
    second checkpoint. Each ends in one line naming the errno and the file,
    exit 1, and epoch_1 stays complete and unchanged."""
    disk, remount = small_disk
    work_dir = disk / 'work'

    def train(epochs, *extra):
        proc = start_train(
            root, CONFIG, work_dir, digits_subset, *extra, epochs=epochs)
        out, _ = proc.communicate(timeout=600)
        return proc.returncode, out

    rc, out = train(1)
    assert rc == 0, out[-3000:]
    first = osp.join(work_dir, 'epoch_1.pth')
    with open(first, 'rb') as f:
        before = f.read()
    for opts, errno_name in (('ro', 'EROFS'), ('rw,size=', 'ENOSPC')):
        if opts.endswith('='):  # room for logs, not for a checkpoint
            used = sum(
                osp.getsize(osp.join(d, f)) for d, _, fs in os.walk(disk)
                for f in fs)
            opts += f'{used // 1024 + 1024}k'
        remount(opts)
        rc, out = train(3, '--resume')
        assert rc == 1, out[-3000:]
        last = out.strip().splitlines()[-1]
        assert last.startswith('train.py: error: ') and errno_name in last, \
            last
        assert f"'{work_dir}" in last, last  # the file it could not write
        assert 'Traceback' not in out
        assert [
            osp.basename(p) for p in assert_checkpoints_complete(work_dir)
        ] == ['epoch_1.pth']
        assert not glob.glob(osp.join(work_dir, '*.tmp'))
        with open(first, 'rb') as f:
            assert f.read() == before
