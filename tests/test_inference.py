"""mogazoo.get_model / inference_model and demo/image_demo.py."""
import glob
import os
import os.path as osp
import runpy
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmengine.runner import save_checkpoint
from PIL import Image

import mogazoo

NAME = 'moganet-xtiny_1xb64_digits'
CONFIG = f'configs/moganet/{NAME}.py'


def digits_model(data_root, checkpoint=None, **opts):
    return mogazoo.get_model(
        NAME,
        checkpoint,
        test_dataloader=dict(dataset=dict(data_root=data_root)),
        **opts)


@pytest.fixture(scope='module')
def image(digits_subset):
    return sorted(glob.glob(osp.join(digits_subset, 'val', '3', '*.png')))[0]


@pytest.fixture(scope='module')
def color_image(tmp_path_factory):
    """A colour image, so that RGB and BGR orders differ."""
    rng = np.random.default_rng(0)
    path = str(tmp_path_factory.mktemp('img') / 'color.png')
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), np.uint8)).save(path)
    return path


def test_get_model_by_name_and_by_path(root, digits_subset):
    by_name = digits_model(digits_subset)
    by_path = mogazoo.get_model(osp.join(root, CONFIG))
    for model in (by_name, by_path):
        assert not model.training
        assert model.cfg.model.backbone.type == 'MogaNet'
        assert model.head.fc.out_features == 10
    assert by_name.state_dict().keys() == by_path.state_dict().keys()
    # class names from the image folder of the config's dataset, if there
    folders = tuple(sorted(os.listdir(osp.join(digits_subset, 'val'))))
    assert by_name.dataset_meta == {'classes': folders}
    # the digits config names its classes: known without the data
    assert digits_model('/no/such/folder').dataset_meta == {
        'classes': tuple('0123456789')
    }
    folder_cfg = osp.join(
        root, 'configs/custom/'
        'moganet-xtiny_ft-head_image-folder.py')
    no_data = mogazoo.get_model(
        folder_cfg, **{'test_dataloader.dataset.data_root': '/no/such/folder'})
    assert no_data.dataset_meta == {}
    assert NAME in mogazoo.list_models('xtiny')
    assert all('_base_' not in n for n in mogazoo.list_models())


def test_checkpoint_round_trip(digits_subset, image, tmp_path):
    torch.manual_seed(1)
    model = digits_model(digits_subset)
    classes = [f'digit-{i}' for i in range(10)]
    ckpt = str(tmp_path / 'model.pth')
    save_checkpoint(
        {
            'state_dict': model.state_dict(),
            'meta': {
                'dataset_meta': {
                    'classes': classes
                }
            }
        }, ckpt)
    torch.manual_seed(2)
    fresh = digits_model(digits_subset)
    loaded = digits_model(digits_subset, ckpt)
    assert loaded.dataset_meta['classes'] == tuple(classes)  # ckpt first
    want = mogazoo.inference_model(model, image, topk=10)
    got = mogazoo.inference_model(loaded, image, topk=10)
    assert [p['label'] for p in got] == [p['label'] for p in want]
    np.testing.assert_allclose([p['score'] for p in got],
                               [p['score'] for p in want],
                               rtol=1e-6)
    assert got[0]['class_name'] == classes[got[0]['label']]
    # the weights come from the checkpoint, not from the build
    assert mogazoo.inference_model(fresh, image, 10) != got


def test_topk_predictions(digits_subset, image):
    model = digits_model(digits_subset)
    preds = mogazoo.inference_model(model, image, topk=3)
    assert len(preds) == 3
    scores = [p['score'] for p in preds]
    assert scores == sorted(scores, reverse=True)
    every = mogazoo.inference_model(model, image, topk=50)  # clamped to C
    assert sorted(p['label'] for p in every) == list(range(10))
    assert sum(p['score'] for p in every) == pytest.approx(1, abs=1e-5)
    assert every[:3] == preds
    assert all(p['class_name'] == str(p['label']) for p in every)


def test_path_and_bgr_array_agree(digits_subset, color_image):
    model = digits_model(digits_subset)
    from_path = mogazoo.inference_model(model, color_image, topk=10)
    bgr = mmcv.imread(color_image)  # as the pipeline loads files
    assert mogazoo.inference_model(model, bgr, topk=10) == from_path
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    assert mogazoo.inference_model(model, rgb, topk=10) != from_path


@pytest.mark.parametrize(
    'case',
    ['name', 'config', 'checkpoint', 'mismatch', 'image', 'array', 'topk'])
def test_bad_inputs_name_the_culprit(case, digits_subset, image, tmp_path):
    if case == 'name':
        with pytest.raises(ValueError, match=f'moganet-xtiny_digits.*{NAME}'):
            mogazoo.get_model('moganet-xtiny_digits')
    elif case == 'config':
        with pytest.raises(FileNotFoundError, match='configs/nope.py'):
            mogazoo.get_model('configs/nope.py')
    elif case == 'checkpoint':
        with pytest.raises(FileNotFoundError, match='missing.pth'):
            mogazoo.get_model(NAME, str(tmp_path / 'missing.pth'))
    elif case == 'mismatch':
        ckpt = str(tmp_path / 'ten.pth')
        save_checkpoint(
            {'state_dict': digits_model(digits_subset).state_dict()}, ckpt)
        with pytest.raises(RuntimeError, match='(?s)ten.pth.*head.fc.weight'):
            mogazoo.get_model(NAME, ckpt, model=dict(head=dict(num_classes=5)))
    else:
        model = digits_model(digits_subset)
        if case == 'image':
            with pytest.raises(FileNotFoundError, match='nope.png'):
                mogazoo.inference_model(model, str(tmp_path / 'nope.png'))
        elif case == 'array':
            with pytest.raises(ValueError, match=r'\(32, 32\)'):
                mogazoo.inference_model(model, np.zeros((32, 32), np.uint8))
        else:
            with pytest.raises(ValueError, match='topk'):
                mogazoo.inference_model(model, image, topk=0)


def test_image_demo(root, digits_subset, image, tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    model = digits_model(digits_subset)
    ckpt = str(tmp_path / 'model.pth')
    save_checkpoint({'state_dict': model.state_dict()}, ckpt)
    monkeypatch.setattr(sys, 'argv', [
        'image_demo.py', image, NAME, '--checkpoint', ckpt, '--topk', '2',
        '--cfg-options', f'test_dataloader.dataset.data_root={digits_subset}'
    ])
    runpy.run_path(
        osp.join(root, 'demo', 'image_demo.py'), run_name='__main__')
    want = mogazoo.inference_model(model, image, topk=2)
    assert capsys.readouterr().out.strip().splitlines() == [
        f"{i}. label {p['label']} ({p['class_name']}): {p['score']:.4f}"
        for i, p in enumerate(want, 1)
    ]
