"""tools/visualization/browse_dataset.py and mogazoo.visualization.browse on
the digits (CustomDataset) and an image folder (ImageFolderDataset)."""
import glob
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mogazoo.visualization import enlarge
from runner_utils import load_tool, tool_exit

TOOL = 'tools/visualization/browse_dataset.py'
DIGITS = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
FOLDER = 'configs/custom/moganet-xtiny_ft-head_image-folder.py'


def root_options(root):
    return ['--cfg-options'] + [
        f'{loader}.dataset.data_root={root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def saved(out, index, name):
    [path] = glob.glob(osp.join(out, f'{index:05d}_{name}.png'))
    return np.asarray(Image.open(path).convert('RGB'))


@pytest.mark.parametrize('config', [DIGITS, FOLDER])
def test_original_and_transformed(config, digits_subset, tmp_path, capsys):
    """``concat``: left the file as loaded, right the val pipeline's output
    (deterministic), each enlarged to 64 pixels; samples spread over the
    classes; the grid is written."""
    out = str(tmp_path / 'browse')
    pictures = load_tool(TOOL).main([
        config, '--phase', 'val', '--mode', 'concat', '--show-number', '10',
        '--size', '64', '--output-dir', out, *root_options(digits_subset)
    ])
    assert '10 of 100 val samples (concat)' in capsys.readouterr().out
    # 10 val images per class, sorted by class: one sample of each
    assert [name for _, name, _ in pictures] == [str(c) for c in range(10)]
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS

    from mogazoo.utils import load_config
    init_default_scope('mmpretrain')
    cfg = load_config(config,
                      {'val_dataloader.dataset.data_root': digits_subset})
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    for index, name, picture in pictures:
        np.testing.assert_array_equal(saved(out, index, name), picture)
        src = dataset.get_data_info(index)['img_path']
        assert osp.basename(osp.dirname(src)) == name
        grey = np.asarray(Image.open(src).convert('L'))
        left = enlarge(np.repeat(grey[..., None], 3, axis=2), 64)
        np.testing.assert_array_equal(picture[:, :64], left)
        inputs = dataset[index]['inputs'].numpy().transpose(1, 2, 0)
        right = enlarge(np.ascontiguousarray(inputs[..., ::-1]), 64)
        np.testing.assert_array_equal(picture[:, 64 + 4:], right)
    grid = np.asarray(Image.open(osp.join(out, 'grid.png')))
    assert grid.shape[0] > 2 * 64 and grid.shape[1] > 5 * 64


def test_train_augmentations_are_shown(digits_subset, tmp_path):
    """The train pipeline's random crops: the transformed image is 32x32
    and not the plain resize of the file."""
    pictures = load_tool(TOOL).main([
        DIGITS, '--mode', 'transformed', '--show-number', '3', '--size', '32',
        '--output-dir',
        str(tmp_path), *root_options(digits_subset)
    ])
    assert len(pictures) == 3
    for _, _, picture in pictures:
        assert picture.shape == (32, 32, 3)


def test_errors(digits_subset, tmp_path):
    msg = tool_exit(TOOL, tmp_path / 'none.py')
    assert 'none.py' in msg
    msg = tool_exit(
        TOOL, DIGITS, '--output-dir', tmp_path, '--cfg-options',
        'train_dataloader.dataset.data_root=' + str(tmp_path / 'nowhere'))
    assert 'nowhere' in msg
    assert tool_exit(TOOL, DIGITS, '--show-number', '0') == 2
    assert tool_exit(TOOL, DIGITS, '--mode', 'pipeline') == 2
