"""A refused input ends a tool with one line naming it and exit code 1, no
traceback; ``--debug`` shows the traceback (issue 28 item 2)."""
import os
import subprocess
import sys

import pytest
import torch

#: each test starts tools in processes of their own: make test-all / CI
pytestmark = pytest.mark.slow
CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'


class SystemCall:
    """Pickles as ``posix.system(command)``."""

    def __init__(self, marker):
        self.command = f'touch {marker}'

    def __reduce__(self):
        return os.system, (self.command, )


def run_tool(root, *args):
    return subprocess.run([sys.executable, *map(str, args)],
                          cwd=root,
                          capture_output=True,
                          text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def crafted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crafted')
    marker = tmp / 'owned'
    path = tmp / 'epoch_1.pth'
    torch.save({
        'state_dict': {
            'w': torch.ones(1)
        },
        'x': SystemCall(marker)
    }, path)
    return path, marker


def options(data_root, work_dir):
    return [
        '--work-dir', work_dir, '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.persistent_workers=False'
    ]


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_refused_checkpoint_is_one_line(root, digits_subset, tmp_path, crafted,
                                        tool):
    path, marker = crafted
    if tool == 'train':
        args = ['tools/train.py', CONFIG, '--resume', path]
    else:
        args = ['tools/test.py', CONFIG, path]
    res = run_tool(root, *args, *options(digits_subset, tmp_path))
    assert res.returncode == 1, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f'{tool}.py: error: ') and 'posix.system' in last
    assert str(path) in last
    assert 'Traceback' not in res.stderr
    assert not marker.exists()
    debug = run_tool(root, *args, '--debug', *options(digits_subset, tmp_path))
    assert debug.returncode == 1
    assert 'Traceback' in debug.stderr and 'UnsafeFileError' in debug.stderr
    assert not marker.exists()


def test_config_error_is_one_line(root, tmp_path):
    res = run_tool(root, 'tools/train.py', CONFIG, '--cfg-options',
                   'trian_cfg.max_epochs=1')
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith(
        'train.py: error: ') and 'trian_cfg' in res.stderr
    assert 'Traceback' not in res.stderr
