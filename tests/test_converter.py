import pytest
import torch
from mmengine.runner import load_checkpoint
from mmpretrain.models import build_classifier

import mogazoo  # noqa: F401
from mogazoo.checkpoint.converters import (convert_moganet,
                                           load_official_state_dict)
from mogazoo.utils import load_config
import official_records
from helpers import moganet_official_key as official_key
from runner_utils import tool_exit

CONVERTER = 'tools/model_converters/moganet_to_mogazoo.py'
ARCHS = ['xtiny', 'tiny', 'small', 'base', 'large', 'xlarge']


def build(arch, root):
    cfg = load_config(
        f'{root}/configs/moganet/' + {
            'xtiny': 'moganet-xtiny_8xb128_in1k.py',
            'tiny': 'moganet-tiny_8xb128_in1k.py',
            'small': 'moganet-small_8xb128_in1k.py',
            'base': 'moganet-base_8xb128_in1k.py',
            'large': 'moganet-large_8xb128_in1k.py',
            'xlarge': 'moganet-xlarge_8xb64_in1k.py'
        }[arch])
    return build_classifier(cfg.model)


def official_state_dict(arch):
    """The official MogaNet's state dict, as recorded from the official code
    (tests/official_records.py), ``fill`` values."""
    return official_records.official_state_dict(f'moganet_{arch}')


def released_checkpoint(official, path):
    """Save as released: timm layout, DataParallel prefixes, EMA weights."""
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
            'epoch': 300
        }, path)


def assert_loaded(model, official, ema):
    for key, value in model.state_dict().items():
        expect = official[official_key(key)]
        if ema and expect.is_floating_point():
            expect = expect + 1
        assert torch.equal(value, expect), key


@pytest.mark.parametrize('arch', ARCHS)
def test_round_trip_strict_into_every_config(arch, root, tmp_path):
    official = official_state_dict(arch)
    src = tmp_path / f'moganet_{arch}.pth.tar'
    released_checkpoint(official, src)
    fresh = build(arch, root)
    fresh.load_state_dict(
        convert_moganet(load_official_state_dict(str(src))), strict=True)
    assert_loaded(fresh, official, ema=False)


@pytest.mark.parametrize('ema', [False, True])
def test_converter_tool(ema, root, tmp_path):
    official = official_state_dict('xtiny')
    src = tmp_path / 'moganet_xtiny.pth.tar'
    released_checkpoint(official, src)
    dst = tmp_path / 'converted.pth'
    assert tool_exit(CONVERTER, src, dst, *(['--ema'] if ema else [])) \
        is None
    fresh = build('xtiny', root)
    load_checkpoint(fresh, str(dst), strict=True)
    assert_loaded(fresh, official, ema)


@pytest.mark.parametrize('layout', ['model', 'bare'])
def test_other_layouts(layout, tmp_path):
    model = build_classifier(
        dict(
            type='ImageClassifier',
            backbone=dict(type='MogaNet', arch='xtiny'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=1000,
                      in_channels=192)))
    official = official_state_dict('xtiny')
    path = tmp_path / 'ckpt.pth'
    torch.save({'model': official} if layout == 'model' else official, path)
    converted = convert_moganet(load_official_state_dict(str(path)))
    model.load_state_dict(converted, strict=True)


def run_converter(*args):
    """The converter's exit message ('' when it succeeded)."""
    return str(tool_exit(CONVERTER, *args) or '')


def test_missing_truncated_and_foreign_files(root, tmp_path):
    out = tmp_path / 'out.pth'
    res = run_converter(tmp_path / 'nope.pth', out)
    assert 'nope.pth' in res
    # a truncated checkpoint
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'head.weight': torch.zeros(3, 3)}}, good)
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(good.read_bytes()[:100])
    res = run_converter(bad, out)
    assert 'truncated.pth' in res
    # a checkpoint of another model
    foreign = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, foreign)
    res = run_converter(foreign, out)
    assert 'conv1.weight' in res
    # --ema on a file without EMA weights
    res = run_converter(good, out, '--ema')
    assert 'state_dict_ema' in res
    assert not out.exists()


def test_untrusted_pickles_are_refused(root, tmp_path):
    # argparse.Namespace (timm's training args) is allowed; another class
    # is not, without --trust-file (tests/test_faults_files.py: dangerous
    # globals are refused even with it)
    import datetime
    path = tmp_path / 'with_date.pth'
    torch.save(
        {
            'state_dict': {
                'head.weight': torch.zeros(1)
            },
            'date': datetime.date(2023, 1, 1)
        }, path)
    res = run_converter(path, tmp_path / 'o.pth')
    assert '--trust-file' in res
    assert 'datetime.date' in res
