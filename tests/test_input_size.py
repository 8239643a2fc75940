"""mogazoo.utils.pipeline_input_size: the one rule benchmark.py and
export.py use for the size a config tests at (they had a copy each, which
disagreed on the cases marked below)."""
import pytest
from mmengine.config import Config

from mogazoo.utils import load_config, pipeline_input_size

LOAD = dict(type='LoadImageFromFile')
PACK = dict(type='PackInputs')


def pipeline_cfg(*transforms, loader='test_dataloader'):
    return Config(
        {loader: dict(dataset=dict(pipeline=[LOAD, *transforms, PACK]))})


@pytest.mark.parametrize('config,shape', [
    ('moganet/moganet-xtiny_1xb64_digits.py', (32, 32)),
    ('moganet/moganet-small_8xb128_in1k.py', (224, 224)),
    ('moganet/moganet-xtiny_8xb128_in1k-256px.py', (256, 256)),
    ('fastervit/fastervit-1_32xb128_in1k.py', (224, 224)),
    ('fastervit/fastervit-4_in21k-pre-384px_in1k.py', (384, 384)),
    ('fastervit/fastervit-0-anyres_32xb32-576x960_in1k.py', (576, 960)),
    ('dgmn2/dgmn2-tiny_8xb64-mindspore_in1k.py', (224, 224)),
])
def test_configs(config, shape, root):
    assert pipeline_input_size(load_config(f'{root}/configs/{config}')) \
        == shape


@pytest.mark.parametrize(
    'transforms,shape',
    [
        # ResizeEdge then a crop: the crop decides
        ([
            dict(type='ResizeEdge', scale=256, edge='short'),
            dict(type='CenterCrop', crop_size=224)
        ], (224, 224)),
        # mmcv's Resize and CenterCrop take (w, h)
        ([dict(type='Resize', scale=(960, 576))], (576, 960)),
        ([
            dict(type='Resize', scale=300),
            dict(type='CenterCrop', crop_size=(200, 100))
        ], (100, 200)),
        ([dict(type='mmpretrain.Resize', scale=(64, 48))], (48, 64)),
        # a fixed Pad (w, h) after an open resize
        ([dict(type='ResizeEdge', scale=32),
          dict(type='Pad', size=(40, 30))], (30, 40)),
        # transforms that keep the size
        ([
            dict(type='CenterCrop', crop_size=64),
            dict(type='Normalize', mean=[0, 0, 0], std=[1, 1, 1]),
            dict(type='RandomFlip', prob=0.5)
        ], (64, 64)),
    ])
def test_sizes_both_copies_agreed_on(transforms, shape):
    assert pipeline_input_size(pipeline_cfg(*transforms)) == shape


@pytest.mark.parametrize(
    'transforms,shape',
    [
        # export.py's copy returned the Resize scale: with keep_ratio the
        # image's aspect ratio decides
        ([dict(type='Resize', scale=(224, 224), keep_ratio=True)], None),
        ([
            dict(type='CenterCrop', crop_size=256),
            dict(type='Resize', scale=(224, 224), keep_ratio=True)
        ], None),
        # export.py's copy skipped a ResizeEdge after the crop
        ([
            dict(type='CenterCrop', crop_size=224),
            dict(type='ResizeEdge', scale=256)
        ], None),
        # ... and a Resize by scale_factor
        ([
            dict(type='CenterCrop', crop_size=224),
            dict(type='Resize', scale_factor=0.5)
        ], None),
        # export.py's copy did not know mmpretrain's crops; benchmark.py's read
        # RandomCrop's crop_size as (w, h): mmpretrain's crops take (h, w)
        ([dict(type='RandomCrop', crop_size=(48, 64))], (48, 64)),
        ([dict(type='RandomResizedCrop', scale=(48, 64))], (48, 64)),
        ([
            dict(type='ResizeEdge', scale=256),
            dict(type='EfficientNetCenterCrop', crop_size=240)
        ], (240, 240)),
        # open resizes after a fixed one
        ([
            dict(type='Resize', scale=(64, 64)),
            dict(type='RandomResize', scale=(64, 64), ratio_range=(0.5, 2))
        ], None),
        ([
            dict(type='Resize', scale=(64, 64)),
            dict(type='Pad', pad_to_square=True)
        ], None),
    ])
def test_sizes_the_copies_disagreed_on(transforms, shape):
    assert pipeline_input_size(pipeline_cfg(*transforms)) == shape


def test_where_the_pipeline_is_read_and_the_default():
    crop = dict(type='CenterCrop', crop_size=96)
    # export.py's copy read only the test dataloader
    assert pipeline_input_size(pipeline_cfg(crop, loader='val_dataloader')) \
        == (96, 96)
    cfg = Config(dict(test_pipeline=[LOAD, crop, PACK]))
    assert pipeline_input_size(cfg) == (96, 96)
    # the test dataloader comes first
    cfg = pipeline_cfg(crop)
    cfg.val_dataloader = dict(
        dataset=dict(
            pipeline=[LOAD, dict(type='CenterCrop', crop_size=32), PACK]))
    assert pipeline_input_size(cfg) == (96, 96)
    open_size = pipeline_cfg(dict(type='ResizeEdge', scale=256, edge='short'))
    assert pipeline_input_size(open_size) is None
    assert pipeline_input_size(open_size, default=(224, 224)) == (224, 224)
    assert pipeline_input_size(Config(dict()), (224, 224)) == (224, 224)


def test_the_export_api_and_the_tools_use_it(root):
    from mogazoo import deployment
    from runner_utils import load_tool
    assert deployment.pipeline_input_size is pipeline_input_size
    for tool in ('tools/analysis_tools/benchmark.py',
                 'tools/deployment/export.py'):
        assert load_tool(tool).pipeline_input_size is pipeline_input_size
