import os
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DIGITS_CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'


@pytest.fixture(scope='session')
def root():
    return ROOT


@pytest.fixture(scope='session')
def digits_subset(tmp_path_factory):
    """A small image-folder copy of the bundled digits: 30 train and 10 val
    images per class, written by the real converter's code."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits
    out = tmp_path_factory.mktemp('digits')
    digits = load_digits()
    rng = np.random.default_rng(0)
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(digits.target == c))
        for split, sel in (('train', idx[:30]), ('val', idx[30:40])):
            os.makedirs(out / split / str(c), exist_ok=True)
            for i in sel:
                img = np.round(digits.images[i] * (255 / 16)).astype(np.uint8)
                Image.fromarray(img).save(out / split / str(c) / f'{i}.png')
    return str(out)


@pytest.fixture(scope='session')
def digits_checkpoint(digits_subset, tmp_path_factory):
    """MogaNet-XT of the digits config trained 6 epochs (60 iterations,
    ~15 s on one thread) on the 300 training digits of ``digits_subset``:
    about 90 % accurate. Shared by the CAM, demo and web-demo tests."""
    from runner_utils import tiny_cfg, train
    work_dir = tmp_path_factory.mktemp('digits_train')
    cfg = tiny_cfg(
        osp.join(ROOT, DIGITS_CONFIG),
        digits_subset,
        work_dir,
        epochs=6,
        batch_size=32,
        samples=(300, 16))
    train(cfg)
    return str(work_dir / 'epoch_6.pth')


@pytest.fixture(autouse=True)
def mmpretrain_default_scope():
    """Start every test in mmpretrain's scope: tests that build mmdet or
    mmseg models switch mmengine's global default scope, which would
    otherwise leak into the next test's ``build_classifier``."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    yield


@pytest.fixture(scope='module', autouse=True)
def mmpretrain_default_scope_per_module():
    """The same for module-scoped fixtures, which run before the
    per-test one (e.g. a fixture that builds a classifier right after a
    module of mmseg tests)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    yield


@pytest.fixture(scope='session', autouse=True)
def one_cpu_thread():
    """Run the suite, and the tools it starts, on one intra-op thread.

    On a 2-core machine that is also busy (dataloader workers, another
    process), OpenMP's spinning threads can slow a small forward pass down a
    hundredfold (MogaNet-XT at 64x64: 0.12 s on 1 thread, 14.7 s on 2 under
    load); one thread costs little when the machine is quiet."""
    import torch
    os.environ['OMP_NUM_THREADS'] = '1'
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
