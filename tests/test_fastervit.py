import glob
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmpretrain.models import build_classifier

import mogazoo  # noqa: F401
import mogazoo.models.backbones.fastervit  # noqa: F401  (registers FasterViT)
from mogazoo.checkpoint.converters import load_official_state_dict
from mogazoo.checkpoint.converters.fastervit import convert_fastervit
from mogazoo.models.backbones.fastervit import (FasterViT, window_partition,
                                                window_reverse)
from mogazoo.utils import load_config
import official_records
from helpers import SMALL
from helpers import fastervit_classifier as classifier
from helpers import fastervit_official_key as official_key
from official_records import image, relative_error
from runner_utils import load_tool

CONVERTER = 'tools/model_converters/fastervit_to_mogazoo.py'
converter_main = load_tool(CONVERTER).main

# arch: parameters of the official model (fastervit==1.0.0, 1000 classes),
# fvcore-style FLOPs of the official model at its resolution (same counter)
OFFICIAL = {
    '0': (31404840, 3.504),
    '1': (53366696, 5.517),
    '2': (75923816, 8.994),
    '3': (159547944, 18.738),
    '4': (365555712, 43.273),
    '5': (957520552, 114.040),
    '6': (1360328872, 144.082),
    '4-21k-224': (271944224, 41.632),
    '4-21k-384': (271944224, 126.688),
    '4-21k-512': (271944224, 234.309),
    '4-21k-768': (271944224, 585.589),
}
CONFIGS = {
    '0': 'fastervit-0_32xb128_in1k.py',
    '1': 'fastervit-1_32xb128_in1k.py',
    '2': 'fastervit-2_32xb128_in1k.py',
    '3': 'fastervit-3_32xb128_in1k.py',
    '4': 'fastervit-4_32xb128_in1k.py',
    '5': 'fastervit-5_32xb128_in1k.py',
    '6': 'fastervit-6_32xb128_in1k.py',
    '4-21k-224': 'fastervit-4_in21k-pre-224px_in1k.py',
    '4-21k-384': 'fastervit-4_in21k-pre-384px_in1k.py',
    '4-21k-512': 'fastervit-4_in21k-pre-512px_in1k.py',
    '4-21k-768': 'fastervit-4_in21k-pre-768px_in1k.py',
    'anyres': 'fastervit-0-anyres_32xb32-576x960_in1k.py',
}

TINY = dict(SMALL, window_sizes=[7, 7, 2, 2], hat=[False, False, True, True])


def tiny(**kwargs):
    kwargs.setdefault('any_res', True)
    return FasterViT(TINY, **kwargs)


def cfg_path(root, arch):
    return osp.join(root, 'configs', 'fastervit', CONFIGS[arch])


def build(root, arch, meta=False):
    cfg = load_config(cfg_path(root, arch))
    if meta:
        with torch.device('meta'):
            return build_classifier(cfg.model)
    return build_classifier(cfg.model)


# ---------------------------------------------------------------- sizes


def record_name(arch):
    """The official model recorded by tests/data/make_golden.py that the
    config of ``arch`` is for."""
    if arch.isdigit():
        return f'faster_vit_{arch}_224'
    return 'faster_vit_' + arch.replace('-', '_')


@pytest.mark.parametrize('arch', list(OFFICIAL))
def test_params_match_official(arch, root):
    model = build(root, arch, meta=True)
    official = official_records.layout(record_name(arch))['params']
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL[arch][0] \
        == official


def test_arch_names():
    # (the official names build the official networks: test_official.py)
    with torch.device('meta'):
        assert FasterViT(3).arch_settings == FasterViT(
            'fastervit-3').arch_settings == FasterViT('3').arch_settings
        w = FasterViT('faster_vit_4_21k_768').arch_settings['window_sizes']
        assert w == [7, 7, 48, 24]
        assert FasterViT('4-21k-384').resolution == (384, 384)


def carrier_tokens(model, x):
    """Shapes of the carrier tokens drawn by each stage."""
    seen = {}

    def hook(i):

        def record(module, args, out):
            seen[i] = tuple(out.shape)

        return record

    handles = [
        stage.global_tokenizer.register_forward_hook(hook(i))
        for i, stage in enumerate(model.stages)
        if stage.global_tokenizer is not None
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return seen


def test_carrier_tokens_follow_the_input():
    arch = dict(
        SMALL, window_sizes=[7, 7, 12, 6], hat=[False, False, True, False])
    model = FasterViT(arch, any_res=True).eval()
    # 576x960 (the official example): stage 2 is 36x60, 3x5 windows of 12
    assert carrier_tokens(model, torch.randn(1, 3, 576, 960)) == {
        2: (1, 4 * 15, 64)
    }
    # 224: 14x14 padded to 24x24, 2x2 windows
    assert carrier_tokens(model, torch.randn(1, 3, 224, 224)) == {
        2: (1, 16, 64)
    }
    # 128: 8x8 fits one window: plain window attention
    assert carrier_tokens(model, torch.randn(1, 3, 128, 128)) == {}
    # a model built for 224 (windows of 7) at 448: 28x28, 4x4 windows
    model = FasterViT(dict(arch, window_sizes=[7] * 4)).eval()
    assert model.stages[2].global_tokenizer is not None
    assert carrier_tokens(model, torch.randn(1, 3, 448, 448)) == {
        2: (1, 64, 64)
    }


def test_any_res_and_fixed_forms():
    with torch.device('meta'):
        for arch in OFFICIAL:  # official models: same layers in both forms
            assert FasterViT(arch).state_dict().keys() == FasterViT(
                arch, any_res=True).state_dict().keys()
        # windows of 12 at 224: one window, so the official faster_vit.py
        # has no carrier-token layers; the any-res form has them
        assert FasterViT(
            '0', window_sizes=[7, 7, 12, 6]).stages[2].global_tokenizer is None
        assert FasterViT(
            '0', window_sizes=[7, 7, 12, 6],
            any_res=True).stages[2].global_tokenizer is not None
        assert FasterViT(
            '0', window_sizes=[7, 7, 12, 6],
            resolution=(576, 960)).stages[2].global_tokenizer is not None
    arch = dict(SMALL, window_sizes=[7] * 4, hat=[False, False, True, False])
    fixed, flexible = FasterViT(arch), FasterViT(arch, any_res=True)
    flexible.load_state_dict(fixed.state_dict())
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(fixed.eval()(x)[0], flexible.eval()(x)[0])
    # any_res with a resolution: the official any-res model built for it
    # (tests/test_fastervit_anyres.py); 576x960 with windows of 7: a 6x9
    # grid, so no hat_pos_embed
    with torch.device('meta'):
        built = FasterViT('0', any_res=True, resolution=(576, 960))
    assert hasattr(built.stages[2].blocks[0], 'hat_attn')
    assert built.stages[2].blocks[0].hat_pos_embed is None


def test_window_partition_round_trip():
    x = torch.randn(2, 5, 14, 21)
    windows = window_partition(x, 7)
    assert windows.shape == (2 * 6, 49, 5)
    assert torch.equal(windows[1].t().reshape(5, 7, 7), x[0, :, :7, 7:14])
    assert torch.equal(window_reverse(windows, 7, 14, 21), x)


# ------------------------------------------ equality with the official code


@pytest.mark.parametrize('form', ['fixed', 'anyres'])
def test_logits_equal_official(form):
    """Logits of the official FasterViT with SMALL's settings, weights
    ``fill(official key)`` and input ``image(H, W)``, recorded from the
    official code by tests/data/make_golden.py: faster_vit.py at 224, and
    faster_vit_any_res.py built for 192x320 with windows 7/7/6/5 and
    hierarchical attention in stages 3 and 4 (a 2x4 window grid, then a
    padded 2x2 one), loaded into the resolution-free any-res model."""
    if form == 'fixed':
        arch = dict(
            SMALL, window_sizes=[7, 7, 7, 7], hat=[False, False, True, False])
        model, case = classifier(arch=arch), 'fastervit_small_224'
    else:
        arch = dict(
            SMALL, window_sizes=[7, 7, 6, 5], hat=[False, False, True, True])
        model = classifier(arch=arch, any_res=True)
        case = 'fastervit_small_any_res_192x320'
    spec = official_records.logits(case)
    res = model.load_state_dict(
        convert_fastervit(official_records.official_state_dict(spec['model'])),
        strict=False)
    assert not res.unexpected_keys
    # resolution-free, the model also has the carrier-token position
    # embedding of stage 3, which the official model built for 192x320 lacks
    # (its 2x4 window grid does not use one)
    extra = {f'backbone.stages.2.blocks.{i}.hat_pos_embed' for i in (0, 1)}
    missing = {k.rsplit('.', 3)[0] for k in res.missing_keys}
    assert missing == (set() if form == 'fixed' else extra)
    x = image(*spec['input'][2:])
    with torch.no_grad():
        logits = model.eval()(x)
    err = relative_error(logits, spec['logits'])
    assert err <= 1e-5, (err, logits[0, :5].tolist())
    logits = logits[0]
    # the carrier tokens matter: without their attention the logits move
    for blk in model.backbone.stages[2].blocks:
        blk.gamma1.data.zero_()
    with torch.no_grad():
        assert not torch.allclose(model(x)[0], logits, atol=1e-3)


# ------------------------------------------------------ training behaviour
# (what every backbone does: tests/test_backbone_contract.py)


def test_output_norms_only_for_out_indices():
    model = tiny(out_indices=(1, -1))
    assert sorted(model.norms) == ['1', '3']
    assert isinstance(model.norms['3'], torch.nn.BatchNorm2d)


def test_bad_archs_are_named():
    with pytest.raises(KeyError, match='window_sizes'):
        FasterViT(dict(embed_dims=[8], depths=[1], num_heads=[1], hat=[0]))
    with pytest.raises(ValueError, match='num_heads'):
        FasterViT(
            dict(
                SMALL,
                window_sizes=[7] * 4,
                hat=[0] * 4,
                num_heads=[2, 2, 3, 4]))
    with pytest.raises(ValueError, match='window size'):
        FasterViT(dict(TINY, window_sizes=[7, 7, 1, 2]))
    with pytest.raises(ValueError, match='conv_stages'):
        FasterViT(dict(TINY, conv_stages=5))
    with pytest.raises(ValueError, match='ct_size'):
        FasterViT(TINY, ct_size=0)


def test_custom_arch():
    arch = dict(
        embed_dims=[8, 16, 32],
        depths=[1, 1, 2],
        num_heads=[1, 1, 2],
        window_sizes=[7, 7, 4],
        hat=[False, False, True],
        conv_stages=2,
        ct_size=1)
    model = FasterViT(arch, out_indices=(0, 1, 2), any_res=True).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [8, 16, 32]
    assert model.stages[2].global_tokenizer is not None


def test_inference_mode_first_then_training():
    # position tables cached under inference mode must serve autograd too
    model = FasterViT(dict(TINY, window_sizes=[7, 7, 3, 3]), any_res=True)
    x = torch.randn(1, 3, 96, 96)
    with torch.inference_mode():
        model.eval()(x)
    model.train()(x)[0].sum().backward()
    assert model.stages[3].blocks[0].attn.pos_emb_funct.cpb_mlp[0] \
        .weight.grad is not None


def test_non_square_window_grid_skips_the_carrier_position_embedding():
    # (at 128x128, square window grids (4x4, 2x2), every layer takes part:
    # tests/test_backbone_contract.py)
    torch.manual_seed(0)
    model = tiny()
    # 96x128: 3x4 windows in stage 3, whose carrier tokens then have no
    # position embedding (as in the official code); stage 4 is padded to 2x2
    model(torch.randn(2, 3, 96, 128))[0].mean().backward()
    unused = {
        n.split('.')[4] + '.' + n.split('.')[1]
        for n, p in model.named_parameters() if p.grad is None
    }
    assert unused == {'hat_pos_embed.2'}


def test_flops_match_official(root):
    from mogazoo.utils.flops import count_flops as count
    _, flops = count(load_config(cfg_path(root, '0')), (224, 224))
    # the same counter gives 3,503,730,176 on the official model; the
    # README's 3.3 G is about the count with the position-bias MLPs folded
    assert flops == 3503730176
    # deployed (the official switch_to_deploy folds the position MLPs):
    # within 2.2 % of the README's 3.3 G
    _, folded = count(
        load_config(cfg_path(root, '0')), (224, 224), deploy=True)
    assert 3.3e9 < folded < 3.3e9 * 1.025 and folded < flops - 1e8


def count_mlp_calls(model):
    calls = []
    for name, m in model.named_modules():
        if name.endswith('cpb_mlp'):
            m.register_forward_hook(lambda *a: calls.append(1))
    return calls


def test_deploy_mode_same_outputs_without_the_mlps():
    """switch_to_deploy: identical outputs at a first and a second input
    size (any-resolution model, non-square), in and out of inference mode;
    the position MLPs run once per size and not again; the state_dict keys
    stay; loading weights refreshes the cached biases."""
    torch.manual_seed(0)
    ref = tiny(out_indices=(0, 1, 2, 3)).eval()
    dep = tiny(out_indices=(0, 1, 2, 3)).eval()
    dep.load_state_dict(ref.state_dict())
    dep.switch_to_deploy()
    assert list(dep.state_dict()) == list(ref.state_dict())
    calls = count_mlp_calls(dep)
    for shape in ((96, 160), (128, 96), (96, 160)):
        x = torch.randn(2, 3, *shape)
        with torch.no_grad():
            want = ref(x)
        with torch.inference_mode():
            got = dep(x)
        with torch.no_grad():
            again = dep(x)
        for a, b, c in zip(want, got, again):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
            torch.testing.assert_close(c, a, rtol=0, atol=1e-6)
    n = len(calls)
    assert n > 0
    with torch.no_grad():
        dep(torch.randn(1, 3, 96, 160))
    assert len(calls) == n  # cached: no MLP runs for a seen size
    # new weights: the caches are rebuilt from them
    torch.manual_seed(1)
    other = tiny(out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.1 * torch.randn_like(p))
    dep.load_state_dict(other.state_dict())
    x = torch.randn(1, 3, 96, 160)
    with torch.no_grad():
        for a, b in zip(dep(x), other(x)):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


# ------------------------------------------------------------- converter


def official_state_dict(arch):
    """The official FasterViT-0 (224) state dict as recorded from the
    official code (tests/official_records.py): official keys, the derived
    buffers and the tokenizer conv's second name; ``fill`` values. It is
    also what the any-resolution config loads."""
    assert arch in ('0', 'anyres')
    return official_records.official_state_dict('faster_vit_0_224')


def released_checkpoint(official, path):
    """Save as timm's CheckpointSaver does: DataParallel prefixes, EMA."""
    torch.save(
        {
            'state_dict': {
                f'module.{k}': v
                for k, v in official.items()
            },
            'state_dict_ema': {
                k: v + 1 if v.is_floating_point() else v
                for k, v in official.items()
            },
            'epoch': 310
        }, path)


def assert_loaded(model, official, ema=False):
    for key, value in model.state_dict().items():
        expect = official[official_key(key)]
        if ema and expect.is_floating_point():
            expect = expect + 1
        assert torch.equal(value, expect), key


@pytest.mark.parametrize('arch', ['0', 'anyres'])
def test_round_trip_strict(arch, root, tmp_path):
    official = official_state_dict(arch)
    src = tmp_path / 'fastervit.pth.tar'
    released_checkpoint(official, src)
    fresh = build(root, arch)
    fresh.load_state_dict(
        convert_fastervit(load_official_state_dict(str(src))), strict=True)
    assert_loaded(fresh, official)


@pytest.mark.parametrize('ema', [False, True])
def test_converter_tool(ema, root, tmp_path):
    official = official_state_dict('0')
    src = tmp_path / 'fastervit_0_224_1k.pth.tar'
    released_checkpoint(official, src)
    dst = tmp_path / 'converted.pth'
    if ema:  # the command line
        subprocess.run(
            [sys.executable, CONVERTER,
             str(src), str(dst), '--ema'],
            cwd=root,
            check=True,
            capture_output=True)
    else:
        converter_main([str(src), str(dst)])
    fresh = build(root, '0')
    load_checkpoint(fresh, str(dst), strict=True)
    assert_loaded(fresh, official, ema)


def test_detection_backbone_layout():
    # downstream/object_detection: norm0..norm3 per level, no head
    model = tiny(out_indices=(0, 1, 2, 3))
    official = {
        official_key('backbone.' + k): v
        for k, v in model.state_dict().items() if not k.startswith('norms.')
    }
    official.update({
        f'norm{i}.{k.split(".", 2)[2]}': v
        for i in range(4)
        for k, v in model.state_dict().items() if k.startswith(f'norms.{i}.')
    })
    converted = convert_fastervit(official)
    model.load_state_dict(
        {
            k[len('backbone.'):]: v
            for k, v in converted.items()
        }, strict=True)


def test_converter_refuses_foreign_and_inconsistent_dicts():
    with pytest.raises(ValueError, match='conv1.weight'):
        convert_fastervit({'conv1.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='blocks.weird'):
        convert_fastervit({
            'levels.0.blocks.0.conv1.weight': torch.zeros(1),
            'blocks.weird': torch.zeros(1)
        })
    with pytest.raises(ValueError, match='differs'):
        convert_fastervit({
            'levels.2.global_tokenizer.pos_embed.weight':
            torch.zeros(2),
            'levels.2.global_tokenizer.to_global_feature.pos.weight':
            torch.ones(2)
        })


def converter_error(*args):
    with pytest.raises(SystemExit) as exc:
        converter_main([str(a) for a in args])
    return str(exc.value.code)


def test_converter_errors(tmp_path):
    import argparse
    import datetime
    out = tmp_path / 'out.pth'
    assert 'nope.pth' in converter_error(tmp_path / 'nope.pth', out)
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'head.weight': torch.zeros(3, 3)}}, good)
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(good.read_bytes()[:100])
    assert 'truncated.pth' in converter_error(bad, out)
    foreign = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, foreign)
    assert 'conv1.weight' in converter_error(foreign, out)
    assert 'state_dict_ema' in converter_error(good, out, '--ema')
    # timm's CheckpointSaver also pickles the training arguments: an
    # argparse.Namespace is allowed, another class needs --trust-file
    with_args = tmp_path / 'with_args.pth'
    torch.save(
        {
            'state_dict': {
                'head.weight': torch.zeros(1)
            },
            'args': argparse.Namespace(lr=1)
        }, with_args)
    assert '--trust-file' not in converter_error(with_args, out)
    with_date = tmp_path / 'with_date.pth'
    torch.save(
        {
            'state_dict': {
                'head.weight': torch.zeros(1)
            },
            'date': datetime.date(2023, 1, 1)
        }, with_date)
    assert '--trust-file' in converter_error(with_date, out)
    assert not out.exists()


# ---------------------------------------------------------------- configs


def test_configs_follow_official_recipe(root):
    # arch: (optimizer, weight decay, drop path, MESA weight, warm-up epochs,
    # test crop short edge) from TRAINING.md and configs/*.yaml
    expect = {
        '0': ('AdamW', 0.005, 0.2, 0.1, 20, 256),
        '1': ('AdamW', 0.005, 0.2, 0.2, 20, 224),
        '2': ('AdamW', 0.005, 0.2, 0.5, 20, 224),
        '3': ('AdamW', 0.005, 0.3, 0.5, 35, 224),
        '4': ('Lamb', 0.12, 0.3, 5.0, 20, 224),
        '5': ('Lamb', 0.12, 0.3, 5.0, 20, 224),
        '6': ('Lamb', 0.12, 0.5, 5.0, 20, 224),
    }
    for arch, (opt, wd, dp, mesa, warmup, edge) in expect.items():
        cfg = load_config(cfg_path(root, arch))
        assert cfg.model.backbone.arch == arch
        optim = cfg.optim_wrapper
        assert optim.type == 'AmpOptimWrapper'
        assert (optim.optimizer.type, optim.optimizer.lr) == (opt, 5e-3)
        assert optim.optimizer.weight_decay == wd
        assert optim.paramwise_cfg.flat_decay_mult == 0.0
        assert optim.clip_grad.max_norm == 5.0
        assert cfg.auto_scale_lr.base_batch_size == 4096 == \
            32 * cfg.train_dataloader.batch_size
        assert cfg.model.backbone.drop_path_rate == dp
        hooks = {h['type']: h for h in cfg.custom_hooks}
        assert hooks['MESAHook']['weight'] == mesa
        assert hooks['MESAHook']['start_ratio'] == (0.3
                                                    if arch == '3' else 0.25)
        assert list(hooks).index('EMAHook') < list(hooks).index('MESAHook')
        assert cfg.param_scheduler[0].end == warmup
        assert cfg.param_scheduler[1].end == 310
        assert cfg.train_cfg.max_epochs == 320
        ema = [h for h in cfg.custom_hooks if h.type == 'EMAHook']
        assert ema and ema[0].momentum == pytest.approx(2e-4)
        assert cfg.test_dataloader.dataset.pipeline[1].scale == edge
        assert cfg.model.head.in_channels == \
            FasterViT.arch_zoo[arch]['embed_dims'][-1]


def test_metafile_lists_every_config(root):
    from mmengine.fileio import load
    meta = load(osp.join(root, 'configs', 'fastervit', 'metafile.yml'))
    listed = {m['Config']: m for m in meta['Models']}
    for arch, (params, flops) in OFFICIAL.items():
        model = listed[f'configs/fastervit/{CONFIGS[arch]}']
        assert model['Metadata']['Parameters'] == params
        assert model['Metadata']['FLOPs'] == pytest.approx(
            flops * 1e9, rel=1e-3)
    names = {
        osp.basename(p)
        for p in glob.glob(osp.join(root, 'configs', 'fastervit', '*.py'))
    }
    assert names == set(CONFIGS.values())
    assert all(re.match(r'fastervit-\d[^_]*_.*in1k\.py$', n) for n in names)
