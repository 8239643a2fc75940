"""tools/analysis_tools/erf.py and mogazoo.visualization.erf: the effective
receptive field, checked on its content."""
import os.path as osp

import numpy as np
import pytest

from mogazoo.visualization.erf import (erf_scores, high_contribution_ratios,
                                       save_erf)
from runner_utils import load_tool, tool_exit

TOOL = 'tools/analysis_tools/erf.py'
CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
AT_64 = ['--cfg-options', 'test_dataloader.dataset.pipeline.1.scale=(64,64)']


def test_area_ratios_of_known_maps():
    point = np.zeros((41, 41))
    point[20, 20] = 5.
    assert all(r == pytest.approx(1 / 41**2)
               for r in high_contribution_ratios(point).values())
    flat = np.ones((101, 101))
    ratios = high_contribution_ratios(flat)
    for t, r in ratios.items():  # a flat map: the area is the share
        assert t <= r < t + 0.05
    assert erf_scores(flat).max() == 1


def test_erf_at_init_differs_from_the_trained_model(root, digits_subset,
                                                    digits_checkpoint,
                                                    tmp_path, monkeypatch,
                                                    capsys):
    monkeypatch.chdir(root)
    images = osp.join(digits_subset, 'val')
    init = load_tool(TOOL).main([
        CONFIG, '--images', images, '--num-images', '8', '--out',
        str(tmp_path / 'init.png'), *AT_64
    ])
    done = load_tool(TOOL).main([
        CONFIG, digits_checkpoint, '--images', images, '--num-images', '8',
        '--out',
        str(tmp_path / 'trained.png'), '--save-npy',
        str(tmp_path / 'erf.npy'), *AT_64
    ])
    assert init['erf'].shape == done['erf'].shape == (64, 64)
    assert len(done['images']) == 8
    a, b = erf_scores(init['erf']), erf_scores(done['erf'])
    assert np.abs(a - b).mean() > 0.02, np.abs(a - b).mean()
    assert init['ratios'] != done['ratios']
    for r in done['ratios'].values():
        assert 0 < r <= 1
    np.testing.assert_array_equal(np.load(tmp_path / 'erf.npy'), done['erf'])
    from PIL import Image
    png = np.asarray(Image.open(tmp_path / 'trained.png').convert('RGB'))
    assert png.shape == (450, 450, 3) and png.std() > 10  # a picture
    assert '99% in' in capsys.readouterr().out


def test_errors(root, digits_subset, tmp_path, monkeypatch):
    monkeypatch.chdir(root)
    msg = tool_exit(TOOL, CONFIG, '--images', tmp_path / 'nope')
    assert 'no such folder' in msg
    msg = tool_exit(TOOL, CONFIG, '--images', tmp_path)
    assert 'no .png' in msg
    with pytest.raises(SystemExit):
        load_tool(TOOL).parse_args(
            [CONFIG, '--images', 'x', '--num-images', '0'])
    save_erf(np.ones((8, 8)), str(tmp_path / 'sub' / 'e.png'))
    assert (tmp_path / 'sub' / 'e.png').exists()
