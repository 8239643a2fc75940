"""Every classification config under configs/ loads and builds its model
(detection and segmentation configs: tests/test_downstream.py, which builds
and runs each of them)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

import mogazoo  # noqa: F401
from mogazoo.utils import load_config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ALL_CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)
CONFIGS = [
    p for p in ALL_CONFIGS
    if osp.basename(osp.dirname(p)) not in ('det', 'seg')
]
#: Above this many parameters a model is built on the meta device only
#: (sizes and structure, no memory, no forward): its forward is the same
#: code as the smaller archs' of its family, run below (FasterViT-4 at 768
#: alone took 69 s to build and run for real).
META_ONLY_PARAMS = 100_000_000


def test_configs_are_found():
    assert len(CONFIGS) >= 7
    from helpers import DOWNSTREAM_CONFIGS as DOWNSTREAM
    assert sorted(CONFIGS + DOWNSTREAM) == ALL_CONFIGS


def metafile_params():
    """Config path -> Parameters of the metafiles listed in model-index.yml."""
    from mmengine.fileio import load
    params = {}
    for meta in load(osp.join(ROOT, 'model-index.yml'))['Import']:
        for model in load(osp.join(ROOT, meta))['Models']:
            assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
            params[osp.join(ROOT,
                            model['Config'])] = model['Metadata']['Parameters']
    return params


METAFILE_PARAMS = metafile_params()


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds(path):
    cfg = load_config(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    params = sum(p.numel() for p in model.parameters())
    assert params > 0
    if path in METAFILE_PARAMS:  # the metafile states the built model's size
        assert abs(params - METAFILE_PARAMS[path]) <= 1000, params
    if params <= META_ONLY_PARAMS:
        model = MODELS.build(cfg.model)
        assert sum(p.numel() for p in model.parameters()) == params
        model.eval()
        with torch.no_grad():
            logits = model(torch.randn(1, 3, 64, 64))
        assert logits.shape == (1, cfg.model.head.num_classes)


def test_moganet_in1k_configs_follow_official_recipe():
    expect = {  # arch: (weight decay, drop path, mixup alpha, EMA, AMP)
        'xtiny': (0.03, 0.05, 0.1, False, True),
        'tiny': (0.04, 0.1, 0.1, False, True),
        'small': (0.05, 0.1, 0.8, True, False),
        'base': (0.05, 0.2, 0.8, True, False),
        'large': (0.05, 0.3, 0.8, True, False),
        'xlarge': (0.05, 0.4, 0.8, True, False),
    }
    for arch, (wd, dp, mixup, ema, amp) in expect.items():
        [path] = glob.glob(
            osp.join(ROOT, 'configs', 'moganet',
                     f'moganet-{arch}_8xb*_in1k.py'))
        cfg = load_config(path)
        bs = cfg.train_dataloader.batch_size
        assert cfg.model.backbone.arch == arch
        assert cfg.optim_wrapper.optimizer.lr == 1e-3
        assert cfg.auto_scale_lr.base_batch_size == bs * 8
        assert cfg.optim_wrapper.optimizer.weight_decay == wd
        assert cfg.model.backbone.drop_path_rate == dp
        assert cfg.model.train_cfg.augments[0].alpha == mixup
        assert cfg.train_cfg.max_epochs == 300
        hooks = [h.type for h in cfg.custom_hooks]
        assert ('EMAHook' in hooks) == ema
        assert (cfg.optim_wrapper.get('type') == 'AmpOptimWrapper') == amp
        ra = [
            t for t in cfg.train_dataloader.dataset.pipeline
            if t.type == 'RandAugment'
        ][0]
        assert ra.magnitude_level == (7 if arch in ('xtiny', 'tiny') else 9)
