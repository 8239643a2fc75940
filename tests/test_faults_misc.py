"""Smaller faults that must stop with a clear error (issue 13, item 7):
corrupt images named by every classification pipeline and found by
``train.py --check``, a busy ``PORT`` for the dist scripts, a relative
``data_root`` that does not exist, and a mogazoo module built without
``import mogazoo``."""
import glob
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS

import mogazoo  # noqa: F401
from mogazoo.datasets import (CorruptDatasetError, CorruptImageError,
                              check_dataset_images)
from mogazoo.engine.runner import check_data_root, one_line_errors
from mogazoo.utils import load_config
from runner_utils import tool_exit

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DIGITS_CFG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
IN1K_CFG = 'configs/moganet/moganet-xtiny_8xb128_in1k.py'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def run(cmd, timeout=120, **env):
    """Run ``cmd`` in the repo root with the test's interpreter."""
    full_env = dict(os.environ, PYTHON=sys.executable, **env)
    return subprocess.run(
        cmd,
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout)


@pytest.fixture
def digits_with_bad(digits_subset, tmp_path):
    """Three images per class and split of the digits subset, plus an empty
    file and a file of text among the val images."""
    root = tmp_path / 'digits'
    for split in ('train', 'val'):
        for c in range(10):
            os.makedirs(root / split / str(c))
            for src in sorted(
                    glob.glob(osp.join(digits_subset, split, str(c),
                                       '*.png')))[:3]:
                shutil.copy(src, root / split / str(c))
    empty = root / 'val' / '3' / 'empty.png'
    empty.write_bytes(b'')
    text = root / 'val' / '7' / 'notes.png'
    text.write_text('not an image')
    return str(root), [str(empty), str(text)]


def classification_configs():
    return [
        p for p in sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py')))
        if osp.basename(osp.dirname(p)) != '_base_'
    ]


# a. every classification pipeline names an image it cannot read


def test_every_classification_pipeline_uses_the_safe_loader():
    """The first step of every dataloader pipeline of every classification
    config is LoadImageFromFileSafe; only training on an image folder skips
    bad files, benchmarks (digits, ImageNet) and evaluation raise."""
    wrong = []
    for path in classification_configs():
        cfg = Config.fromfile(path, import_custom_modules=False)
        for name in LOADERS:
            ds = (cfg.get(name) or {}).get('dataset')
            if not ds:
                continue
            while 'pipeline' not in ds and 'dataset' in ds:
                ds = ds['dataset']
            first = ds['pipeline'][0]
            skips = name == 'train_dataloader' and \
                ds['type'] == 'ImageFolderDataset'
            if first['type'] != 'LoadImageFromFileSafe' or \
                    first.get('skip_corrupt', False) != skips:
                wrong.append(f'{osp.relpath(path, ROOT)} {name}: {first}')
    assert not wrong, '\n'.join(wrong)


def test_digits_and_imagenet_pipelines_name_an_empty_image(digits_with_bad):
    """An empty file makes OpenCV fail without a path
    (``!buf.empty() in function 'imdecode_'``); the error names it."""
    root, (empty, text) = digits_with_bad
    cfg = load_config(DIGITS_CFG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=root))
        index = [
            i for i in range(len(val))
            if val.get_data_info(i)['img_path'] == empty
        ]
        with pytest.raises(CorruptImageError, match=empty):
            val[index[0]]
        train = Compose(cfg.train_dataloader.dataset.pipeline)
        with pytest.raises(CorruptImageError, match=text):
            train(dict(img_path=text))
        in1k = load_config(IN1K_CFG)
        for name in ('train_dataloader', 'val_dataloader'):
            pipeline = Compose(in1k[name].dataset.pipeline)
            with pytest.raises(CorruptImageError, match=empty):
                pipeline(dict(img_path=empty))


def test_safe_loader_keeps_mmpretrain_inferencer_working():
    """mmpretrain's inferencers decode the image themselves and drop only a
    plain LoadImageFromFile: the safe loader passes a decoded image on."""
    from mmpretrain import ImageClassificationInferencer
    inferencer = ImageClassificationInferencer(
        DIGITS_CFG, pretrained=False, device='cpu')
    [result] = inferencer(np.zeros((8, 8, 3), np.uint8))
    assert 0 <= result['pred_label'] < 10
    # the inferencer's default, pretrained=True, for a model with no
    # published weights is an error (mmpretrain would warn and predict with
    # random weights)
    with pytest.raises(ValueError, match='no published weights'):
        ImageClassificationInferencer(DIGITS_CFG, device='cpu')


# b. train.py --check finds bad images before the first iteration


def test_train_check_lists_bad_val_images_before_training(
        digits_with_bad, tmp_path, monkeypatch, capsys):
    """tools/train.py --check (run in this process: a subprocess spends
    most of its time importing) stops before the runner is built."""
    root, bad = digits_with_bad
    work_dir = tmp_path / 'work'
    monkeypatch.setenv('LOCAL_RANK', '0')
    message = str(
        tool_exit('tools/train.py', DIGITS_CFG, '--check', '--work-dir',
                  work_dir, '--cfg-options',
                  f'train_dataloader.dataset.data_root={root}',
                  f'val_dataloader.dataset.data_root={root}'))
    assert message.startswith('train.py: error: --check: 2 image(s) do not '
                              'load (val_dataloader: 2 of 32)')
    for path in bad:
        assert path in message
    assert 'decoding the 30 images of train_dataloader' in \
        capsys.readouterr().out
    assert not work_dir.exists()  # no runner, no log, no checkpoint


def test_check_dataset_images_limits_the_list_and_passes_clean_data(
        digits_with_bad):
    root, bad = digits_with_bad
    cfg = load_config(DIGITS_CFG)
    for name in ('train_dataloader', 'val_dataloader'):
        cfg[name].dataset.data_root = root
    with pytest.raises(CorruptDatasetError) as info:
        check_dataset_images(cfg, jobs=2, limit=1, log=None)
    assert [p for p, _ in info.value.corrupt] == sorted(bad)
    assert '... and 1 more' in str(info.value)
    for path in bad:
        os.remove(path)
    lines = []
    counts = check_dataset_images(cfg, jobs=2, log=lines.append)
    assert counts == {'train_dataloader': 30, 'val_dataloader': 30}
    assert lines[-1] == ('--check: all 60 images of train_dataloader, '
                         'val_dataloader load')


# c. a busy PORT stops the dist scripts at once, naming PORT


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize('script,args', [
    ('tools/dist_train.sh', [DIGITS_CFG, '2']),
    ('tools/dist_test.sh', [DIGITS_CFG, 'missing.pth', '2']),
])
def test_dist_scripts_refuse_a_busy_port(busy_port, script, args):
    start = time.time()
    proc = run(['bash', script] + args, timeout=60, PORT=str(busy_port))
    assert proc.returncode != 0
    assert time.time() - start < 30
    assert f'port {busy_port} is in use on 127.0.0.1' in proc.stderr
    assert 'set PORT=<free one>' in proc.stderr
    assert f'{script} ... with the same arguments' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_dist_launch_starts_on_a_free_port(tmp_path):
    script = tmp_path / 'ranks.py'
    script.write_text('import os\nprint("rank", os.environ["RANK"], "of", '
                      'os.environ["WORLD_SIZE"])\n')
    with socket.socket() as sock:  # a port that is free now
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    proc = run(['bash', 'tools/dist_launch.sh',
                str(script), '1'],
               timeout=90,
               PORT=str(port))
    assert proc.returncode == 0, proc.stderr
    assert 'rank 0 of 1' in proc.stdout


# d. a relative data_root that does not exist


def test_missing_relative_data_root_names_the_working_directory(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config(
        dict(val_dataloader=dict(dataset=dict(data_root='data/digits'))))
    with pytest.raises(FileNotFoundError) as info:
        check_data_root(cfg, 'val_dataloader')
    message = str(info.value)
    assert 'relative to the working directory' in message
    assert f'working directory {tmp_path}' in message
    assert osp.join(str(tmp_path), 'data', 'digits') in message
    assert 'prepare_digits.py --out data/digits' in message
    cfg.val_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError) as info:
        check_data_root(cfg, 'val_dataloader')
    assert 'working directory' not in str(info.value)


# e. a mogazoo module built without `import mogazoo`

#: (scope, registry, name): light registries first; MODELS imports
#: mmpretrain.models, as any first build there does.
BUILDS = [
    ('mmengine', 'HOOKS', 'MESAHook'),
    ('mmengine', 'OPTIMIZERS', 'SophiaG'),
    ('mmpretrain', 'MODELS', 'MogaNet'),
    ('mmpretrain', 'MODELS', 'FasterViT'),
    ('mmpretrain', 'MODELS', 'DGMN2'),
    ('mmpretrain', 'MODELS', 'DistillImageClassifier'),
    ('mmpretrain', 'TRANSFORMS', 'LoadImageFromFileSafe'),
    ('mmpretrain', 'TRANSFORMS', 'ThreeAugment'),
    ('mmpretrain', 'DATASETS', 'ImageFolderDataset'),
]
BUILD_ALL = """
import sys
from mmengine.config import Config
from mmengine.registry import DefaultScope
if sys.argv[1:] == ['custom_imports']:
    Config.fromfile(%r)  # the tools' way: runs the config's custom_imports
for scope, registry, name in %r:
    reg = getattr(__import__(scope + '.registry', fromlist=[registry]),
                  registry)
    try:
        with DefaultScope.overwrite_default_scope(scope):
            obj = reg.get(name)
        print(name, '|', obj.__module__ if obj else None)
    except KeyError as exc:
        print(name, '|', exc)
print('mogazoo imported:', 'mogazoo' in sys.modules)
"""


def test_names_are_known_through_custom_imports_only():
    """As in every OpenMMLab project: without ``import mogazoo`` (or
    ``custom_imports``) the registries do not know mogazoo's names and
    nothing of mogazoo runs in the process (no .pth, no patch); a config's
    ``custom_imports=dict(imports=['mogazoo'])`` (default_runtime.py has
    it) makes every one known."""
    config = osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))),
        'configs/moganet/moganet-xtiny_1xb64_digits.py')
    script = BUILD_ALL % (config, BUILDS)
    bare = run([sys.executable, '-c', script])
    assert 'mogazoo imported: False' in bare.stdout, bare.stderr
    lines = dict(
        line.split(' | ', 1) for line in bare.stdout.splitlines()
        if ' | ' in line)
    assert set(lines) == {name for _, _, name in BUILDS}, bare.stderr
    assert all(v == 'None' for v in lines.values()), lines
    imported = run([sys.executable, '-c', script, 'custom_imports'])
    assert 'mogazoo imported: True' in imported.stdout, imported.stderr
    lines = dict(
        line.split(' | ', 1) for line in imported.stdout.splitlines()
        if ' | ' in line)
    assert all(v.startswith('mogazoo.') for v in lines.values()), lines


def test_editable_install_adds_no_pth_of_mogazoo(tmp_path):
    """pip install -e . (setup.py) puts only setuptools' own editable
    finder into site-packages: no .pth of mogazoo's runs at interpreter
    start-up."""
    proc = run([
        sys.executable, '-c', 'from setuptools import build_meta; '
        f'print(build_meta.build_editable({str(tmp_path)!r}))'
    ])
    assert proc.returncode == 0, proc.stderr
    # and no boxed note for the user to ignore (setup.py silences the one
    # about a folder named like the package: it is the package's source)
    assert 'Editable installation' not in proc.stderr, proc.stderr
    assert '!!' not in proc.stderr, proc.stderr
    [wheel] = glob.glob(str(tmp_path / '*.whl'))
    with zipfile.ZipFile(wheel) as zf:
        pths = [n for n in zf.namelist() if n.endswith('.pth')]
    assert pths == ['__editable__.mogazoo-0.1.0.pth'], pths
    import site
    for folder in site.getsitepackages():
        for path in glob.glob(osp.join(folder, '*.pth')):
            name = osp.basename(path)
            with open(path) as f:
                text = f.read()
            assert 'mogazoo' not in text or \
                name.startswith('__editable__.mogazoo'), (path, text)


def test_one_line_errors_names_a_dead_dataloader_worker():
    """torch's message for a dead worker becomes one line with what to do;
    any other RuntimeError keeps its traceback, and --debug raises it."""
    died = RuntimeError('DataLoader worker (pid(s) 4242) exited unexpectedly')
    with pytest.raises(SystemExit) as exc:
        with one_line_errors('train.py', ()):
            raise died
    message = str(exc.value.code)
    assert message.startswith('train.py: error: DataLoader worker (pid(s) '
                              '4242) exited unexpectedly (')
    assert 'num_workers' in message and '--resume' in message
    with pytest.raises(RuntimeError, match='exited unexpectedly'):
        with one_line_errors('train.py', (), debug=True):
            raise died
    with pytest.raises(RuntimeError, match='CUDA error'):
        with one_line_errors('train.py', ()):
            raise RuntimeError('CUDA error: an illegal memory access')
