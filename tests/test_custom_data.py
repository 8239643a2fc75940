"""Your own folder of images: split_dataset.py, ImageFolderDataset, bad
files, the image-folder config."""
import json
import os
import os.path as osp
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS
from PIL import Image

import mogazoo  # noqa: F401
from mogazoo.datasets import (CorruptImageError, ImageFolderDataset,
                              scan_image_folder, split_folder,
                              stratified_split)
from mogazoo.engine import NumClassCheckHook
from mogazoo.utils import load_config
from runner_utils import load_tool

split_main = load_tool('tools/dataset_converters/split_dataset.py').main

HEAD_CFG = 'configs/custom/moganet-xtiny_ft-head_image-folder.py'
COUNTS = {'daisy': 7, 'rose': 4, 'tulip': 2, 'lotus': 1}


def write_image(path, value, ext='png'):
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.full((8, 8, 3), value, np.uint8)
    img[0, 0] = (value * 7) % 256  # not flat: a real image
    Image.fromarray(img).save(path, format='PNG' if ext == 'png' else 'JPEG')


@pytest.fixture
def flowers(tmp_path):
    """ROOT/<class>/: 7, 4, 2 and 1 image(s) (one nested, one .JPG), an empty
    class folder, a text file in a class, a file outside any class and a
    hidden file."""
    root = tmp_path / 'flowers'
    for c, (name, n) in enumerate(COUNTS.items()):
        for i in range(n):
            write_image(str(root / name / f'{i}.png'), 30 * c + i)
    write_image(str(root / 'daisy' / 'more' / 'x.JPG'), 200, 'jpg')
    (root / 'empty').mkdir()
    (root / 'rose' / 'notes.txt').write_text('not an image')
    (root / 'README.md').write_text('my flowers')
    (root / 'daisy' / '.DS_Store').write_bytes(b'\0')
    return str(root)


@pytest.fixture
def logged():
    """A fresh current mmengine logger writing to a file; returns a
    function that reads what was logged."""
    path = f'/tmp/mogazoo_log_{uuid.uuid4().hex}.log'
    MMLogger.get_instance(f'test_{uuid.uuid4().hex}', log_file=path)
    yield lambda: open(path).read()
    os.remove(path)


def read_split(out_dir):

    def lines(name):
        with open(osp.join(out_dir, name)) as f:
            return f.read().splitlines()

    return lines('train.txt'), lines('val.txt'), lines('classes.txt')


def test_scan_names_what_is_left_out(flowers):
    scan = scan_image_folder(flowers)
    assert scan.classes == ['daisy', 'lotus', 'rose', 'tulip']
    assert scan.empty_classes == ['empty']
    assert scan.non_images == ['rose/notes.txt']
    assert scan.loose_files == ['README.md']
    assert ('daisy/more/x.JPG', 0) in scan.samples
    assert len(scan.samples) == sum(COUNTS.values()) + 1
    problems = '\n'.join(scan.problems(flowers))
    for name in ('empty', 'rose/notes.txt', 'README.md'):
        assert name in problems


def test_split_is_stratified_complete_and_reproducible(flowers, tmp_path):
    logs = []
    split_folder(
        flowers, 0.2, seed=0, out_dir=str(tmp_path / 'a'), log=logs.append)
    split_folder(flowers, 0.2, seed=0, out_dir=str(tmp_path / 'b'), log=print)
    split_folder(flowers, 0.2, seed=1, out_dir=str(tmp_path / 'c'), log=print)
    train, val, classes = read_split(tmp_path / 'a')
    assert read_split(tmp_path / 'b') == (train, val, classes)
    assert read_split(tmp_path / 'c')[1] != val  # the seed matters
    assert classes == ['daisy', 'lotus', 'rose', 'tulip']
    pairs = [line.rsplit(' ', 1) for line in train + val]
    paths = [p for p, _ in pairs]
    assert sorted(paths) == sorted(
        p for p, _ in scan_image_folder(flowers).samples)
    assert len(set(paths)) == len(paths)  # no image in both
    for path, label in pairs:  # the label is the image's class folder
        assert path.split('/')[0] == classes[int(label)]
        assert osp.isfile(osp.join(flowers, path))
    n_val = {c: sum(line.startswith(c + '/') for line in val) for c in classes}
    # round(n * 0.2), at least 1 of 2 or more, none of a single image
    assert n_val == {'daisy': 2, 'rose': 1, 'tulip': 1, 'lotus': 0}
    assert any(line.startswith('lotus/') for line in train)
    text = '\n'.join(logs)
    for name in ('empty', 'rose/notes.txt', 'README.md', "['lotus']"):
        assert name in text
    meta = json.load(open(tmp_path / 'a' / 'split.json'))
    assert (meta['train'], meta['val'], meta['seed']) == (11, 4, 0)


def test_stratified_split_ratio_on_larger_classes():
    labels = np.repeat([0, 1, 2], [100, 50, 3])
    train, val = stratified_split(labels, 0.3, seed=5)
    assert sorted(train + val) == list(range(len(labels)))
    assert np.bincount(labels[val]).tolist() == [30, 15, 1]
    assert (train, val) == stratified_split(labels, 0.3, seed=5)


def test_split_refuses_an_already_split_folder(digits_subset, capsys):
    with pytest.raises(SystemExit, match='already has train/ and val/'):
        split_main([digits_subset])


def test_check_names_and_leaves_out_corrupt_images(flowers, tmp_path):
    with open(osp.join(flowers, 'rose', 'broken.png'), 'wb') as f:
        f.write(b'not a png at all')
    good = open(osp.join(flowers, 'daisy', '0.png'), 'rb').read()
    with open(osp.join(flowers, 'daisy', 'truncated.png'), 'wb') as f:
        f.write(good[:len(good) // 2])
    logs = []
    meta = split_folder(
        flowers, out_dir=str(tmp_path), check=True, log=logs.append)
    assert sorted(meta['left_out']['corrupt']) == [
        'daisy/truncated.png', 'rose/broken.png'
    ]
    text = '\n'.join(logs)
    assert 'Cannot read image ' + osp.join(flowers, 'rose',
                                           'broken.png') in text
    train, val, _ = read_split(tmp_path)
    assert not any('broken' in line or 'truncated' in line
                   for line in train + val)


def test_dataset_reads_the_split_files(flowers):
    split_main([flowers, '--seed', '0'])
    train, val, classes = read_split(flowers)
    for split, lines in (('train', train), ('val', val)):
        ds = ImageFolderDataset(data_root=flowers, split=split)
        assert ds.metainfo['classes'] == tuple(classes)
        assert len(ds) == len(lines)
        for info, line in zip(ds, lines):
            path, label = line.rsplit(' ', 1)
            assert info['img_path'] == osp.join(flowers, path)
            assert info['gt_label'] == int(label)


def test_dataset_folder_layout_numbers_val_classes_like_train(
        tmp_path, logged):
    root = tmp_path / 'data'
    for split, names in (('train', 'abc'), ('val', 'ac')):
        for c in names:
            write_image(str(root / split / c / '0.png'), 10)
    (root / 'train' / 'zz_empty').mkdir()
    (root / 'train' / 'b' / 'labels.csv').write_text('b')
    val = ImageFolderDataset(data_root=str(root), split='val')
    # mmpretrain's CustomDataset would number val's c as 1
    assert val.metainfo['classes'] == ('a', 'b', 'c')
    assert [d['gt_label'] for d in val] == [0, 2]
    train = ImageFolderDataset(data_root=str(root), split='train')
    assert train.metainfo['classes'] == ('a', 'b', 'c')
    assert 'are not classes: zz_empty' in logged()
    assert 'left out: b/labels.csv' in logged()
    write_image(str(root / 'val' / 'd' / '0.png'), 10)
    with pytest.raises(ValueError, match=r"class folder\(s\) \['d'\]"):
        ImageFolderDataset(data_root=str(root), split='val')


def test_dataset_errors_name_the_missing_piece(tmp_path, flowers):
    with pytest.raises(FileNotFoundError, match='Image folder not found'):
        ImageFolderDataset(data_root=str(tmp_path / 'nope'))
    with pytest.raises(
            FileNotFoundError,
            match=r'neither a val/ folder .*split_dataset.py'):
        ImageFolderDataset(data_root=flowers, split='val')
    with open(osp.join(flowers, 'val.txt'), 'w') as f:
        f.write('daisy/0.png 0\n')
    with pytest.raises(FileNotFoundError, match='classes.txt not found'):
        ImageFolderDataset(data_root=flowers, split='val')
    with open(osp.join(flowers, 'classes.txt'), 'w') as f:
        f.write('daisy\n')
    with open(osp.join(flowers, 'val.txt'), 'a') as f:
        f.write('rose/0.png 1\n')
    with pytest.raises(ValueError, match=r'label 1 of .*rose/0.png'):
        ImageFolderDataset(data_root=flowers, split='val')


def test_corrupt_image_is_skipped_in_training_and_named_otherwise(
        flowers, logged):
    bad = osp.join(flowers, 'rose', 'broken.png')
    with open(bad, 'wb') as f:
        f.write(b'not a png at all')
    split_main([flowers])  # without --check: the bad file is in the split
    for split in ('train', 'val'):
        lines = open(osp.join(flowers, f'{split}.txt')).read()
        if 'rose/broken.png' in lines:
            break
    kwargs = dict(data_root=flowers, split=split)
    ds = ImageFolderDataset(
        pipeline=[dict(type='LoadImageFromFileSafe', skip_corrupt=True)],
        **kwargs)
    idx = [ds.get_data_info(i)['img_path'] for i in range(len(ds))].index(bad)
    np.random.seed(0)
    out = ds[idx]  # another sample, drawn by mmengine's BaseDataset
    assert out['img_path'] != bad and out['img'].shape == (8, 8, 3)
    assert f'Cannot read image {bad}' in logged()
    strict = ImageFolderDataset(
        pipeline=[dict(type='LoadImageFromFileSafe')], **kwargs)
    with pytest.raises(CorruptImageError, match=f'Cannot read image {bad}'):
        strict[idx]


def test_config_reads_both_layouts(root, digits_subset, flowers):
    split_main([flowers])
    cfg = load_config(osp.join(root, HEAD_CFG))
    for data_root, n_classes in ((digits_subset, 10), (flowers, 4)):
        for loader, n in (('train_dataloader', 300), ('val_dataloader', 100)):
            ds_cfg = cfg[loader].dataset.copy()
            ds_cfg.data_root = data_root
            ds = DATASETS.build(ds_cfg)
            assert len(ds.metainfo['classes']) == n_classes
            if data_root == digits_subset:
                assert len(ds) == n
            sample = ds[0]
            assert sample['inputs'].shape == (3, 224, 224)


def fake_runner(num_classes, *class_lists):
    head = SimpleNamespace(num_classes=num_classes)
    loaders = {
        name:
        SimpleNamespace(
            dataset=SimpleNamespace(metainfo=dict(classes=classes)))
        for name, classes in zip(('train_dataloader',
                                  'val_dataloader'), class_lists)
    }
    return SimpleNamespace(model=SimpleNamespace(head=head), **loaders)


def test_num_class_check_hook():
    hook = NumClassCheckHook()
    hook.before_train(fake_runner(3, 'abc', 'abc'))
    with pytest.raises(
            ValueError,
            match=r'train_dataloader dataset has 3 '
            r'classes .* set model.head.num_classes=3'):
        hook.before_train(fake_runner(10, 'abc', 'abc'))
    with pytest.raises(
            ValueError, match='val_dataloader dataset names '
            'other classes'):
        hook.before_train(fake_runner(3, 'abc', 'abd'))
