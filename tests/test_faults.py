"""No silent wrong answers at the seams (issue "No silent wrong answers"):
official checkpoints on every load path, strict evaluation, config mistakes
caught before the first iteration."""
import os

import pytest
import torch
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS

import mogazoo
from mogazoo.checkpoint.fit import CheckpointMismatchError
from mogazoo.engine.runner import add_safety_hooks, build_runner
from mogazoo.utils import load_config
from mogazoo.utils.config_checks import check_resume, check_schedule
from helpers import (CONVERTERS, build, convert_with_tool, logits,
                     moganet_official_key, official_checkpoint)
from runner_utils import RecordHook, tiny_cfg, tool_exit

DIGITS = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
FREEZE2 = 'configs/custom/moganet-xtiny_ft-freeze2_image-folder.py'
FAMILIES = {
    # family: (config of helpers.OFFICIAL_FILES' official model, input size)
    'MogaNet': ('configs/moganet/moganet-xtiny_8xb128_in1k.py', 64),
    'FasterViT': ('configs/fastervit/fastervit-0_32xb128_in1k.py', 64),
    'DGMN2': ('configs/dgmn2/dgmn2-tiny_8xb128_in1k.py', 64),
}


@pytest.fixture(scope='module')
def official(tmp_path_factory, root):
    """Per family: the config, an official file and the tool's output."""
    out = {}
    tmp = tmp_path_factory.mktemp('official')
    for family, (config, _) in FAMILIES.items():
        src = official_checkpoint(family, tmp / f'{family}.pth')
        dst = convert_with_tool(family, src, tmp / f'{family}_conv.pth')
        out[family] = (f'{root}/{config}', src, dst)
    return out


# ------------------------------------------------ official checkpoints


@pytest.mark.parametrize('family', list(FAMILIES))
def test_official_checkpoint_converted_in_memory(family, official):
    config, src, dst = official[family]
    size = FAMILIES[family][1]
    ref = logits(mogazoo.get_model(config, dst), size)
    assert torch.isfinite(ref).all()
    # mogazoo.get_model and mmpretrain.get_model(pretrained=)
    got = logits(mogazoo.get_model(config, src), size)
    assert torch.equal(got, ref)
    import mmpretrain
    got = logits(mmpretrain.get_model(config, pretrained=src).eval(), size)
    assert torch.equal(got, ref)
    # init_cfg Pretrained on the backbone, with and without prefix
    ref_state = mogazoo.get_model(config, dst).backbone.state_dict()
    for prefix in ('backbone.', None):
        init_cfg = dict(type='Pretrained', checkpoint=src)
        if prefix:
            init_cfg['prefix'] = prefix
        model = build(config, **{'model.backbone.init_cfg': init_cfg})
        for key, value in ref_state.items():
            assert torch.equal(model.backbone.state_dict()[key], value), key


def test_inferencer_with_official_checkpoint(official, root):
    from mmpretrain import ImageClassificationInferencer
    config, src, dst = official['MogaNet']
    ref = mogazoo.get_model(config, dst)
    inferencer = ImageClassificationInferencer(config, pretrained=src)
    for key, value in ref.state_dict().items():
        assert torch.equal(inferencer.model.state_dict()[key], value), key


def test_load_from_official_checkpoint_in_finetuning(root, digits_subset,
                                                     official, tmp_path):
    """freeze-2 fine-tuning with load_from = the official file: the backbone
    starts from its weights (it used to start random, with "missing keys"
    lines only); the 1000-class head is dropped with a warning."""
    _, src, dst = official['MogaNet']
    ref = torch.load(dst, weights_only=True)['state_dict']
    cfg = tiny_cfg(
        f'{root}/{FREEZE2}',
        digits_subset,
        tmp_path, {'load_from': src},
        samples=(16, 16))
    runner = build_runner(cfg)
    record = RecordHook()
    runner.register_hook(record)
    runner.train()
    backbone = [k for k in ref if k.startswith('backbone.')]
    assert len(backbone) > 700
    for key in backbone:
        assert torch.equal(record.before[key], ref[key]), key


@pytest.mark.parametrize('family', list(FAMILIES))
def test_official_detection_layout(family, tmp_path, root):
    """An official detection checkpoint (backbone.* in the official
    layout): MogaNet's is converted in memory (tests/
    test_downstream_converter.py has the details); FasterViT's and DGMN2's
    are refused, naming the ImageNet converter, as no converter exists."""
    from mmengine.runner.checkpoint import _load_checkpoint
    if family == 'MogaNet':
        model = build(f'{root}/{FAMILIES["MogaNet"][0]}')
        state = {
            'backbone.' + moganet_official_key(k): v
            for k, v in model.state_dict().items() if k.startswith('backbone.')
        }
    else:  # a key of the official layout is enough to be recognised
        state = {
            dict(
                FasterViT='backbone.levels.0.blocks.0.conv.weight',
                DGMN2='backbone.block1.0.attn.q.weight')[family]:
            torch.zeros(1)
        }
    state['neck.fpn_convs.0.conv.weight'] = torch.zeros(1)
    path = tmp_path / 'retinanet_official.pth'
    torch.save({'state_dict': state, 'meta': {}}, path)
    if family != 'MogaNet':
        with pytest.raises(
                RuntimeError,
                match=rf'official {family} '
                r'detection .*no converter.*'
                rf'{CONVERTERS[family]}_to_mogazoo\.py'):
            _load_checkpoint(str(path))
        return
    ckpt = _load_checkpoint(str(path))
    assert ckpt['meta']['converter'] == 'moganet_det_to_mogazoo.py'
    converted = ckpt['state_dict']
    assert torch.equal(converted['neck.fpn_convs.0.conv.weight'],
                       torch.zeros(1))
    for key, value in model.state_dict().items():
        if key.startswith('backbone.'):
            assert torch.equal(converted[key], value), key
    # into the classifier it is not: strict loading names the difference
    with pytest.raises(CheckpointMismatchError, match='unexpected'):
        mogazoo.get_model(f'{root}/{FAMILIES["MogaNet"][0]}', str(path))


# --------------------------------------------------- strict evaluation


@pytest.fixture(scope='module')
def digits_ckpt(tmp_path_factory, root):
    """A MogaNet-XT digits checkpoint as tools/train.py writes it."""
    model = build(f'{root}/{DIGITS}')
    path = str(tmp_path_factory.mktemp('digits') / 'epoch_1.pth')
    save_checkpoint({'meta': {}, 'state_dict': model.state_dict()}, path)
    return path


def run_test_tool(capsys, *argv):
    """tools/test.py in this process; returns (exit message, stdout)."""
    return str(tool_exit('tools/test.py', *argv)), capsys.readouterr()


def data_options(data_root):
    return [
        '--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]


def test_test_tool_refuses_another_arch(capsys, root, digits_ckpt,
                                        digits_subset, tmp_path):
    msg, _ = run_test_tool(capsys, f'{root}/{DIGITS}', digits_ckpt,
                           '--work-dir', str(tmp_path),
                           *data_options(digits_subset),
                           'model.backbone.arch=tiny')
    assert msg.startswith('test.py: error: Checkpoint ')
    assert 'have another shape' in msg
    assert 'Likely cause: another arch of MogaNet' in msg
    assert len(msg) < 2000  # a summary, not 417 lines


def test_test_tool_refuses_another_class_count(capsys, root, digits_subset,
                                               tmp_path):
    # digits has 10 classes; a 20-class head would be dropped before
    fresh = build(f'{root}/{DIGITS}', **{'model.head.num_classes': 20})
    ckpt = str(tmp_path / 'head20.pth')
    save_checkpoint({'state_dict': fresh.state_dict()}, ckpt)
    msg, _ = run_test_tool(capsys, f'{root}/{DIGITS}', ckpt, '--work-dir',
                           str(tmp_path), *data_options(digits_subset))
    assert 'head.fc.weight (20, 192) vs (10, 192)' in msg
    assert "another class count (the checkpoint's head has 20" in msg


def test_test_tool_refuses_another_family(capsys, root, digits_subset,
                                          tmp_path):
    """A 10-class DGMN2-T checkpoint evaluated with the MogaNet digits
    config: exit with the summary, not the size mismatches."""
    dgmn2 = build(f'{root}/{FAMILIES["DGMN2"][0]}',
                  **{'model.head.num_classes': 10})
    ckpt = str(tmp_path / 'dgmn2.pth')
    save_checkpoint({'state_dict': dgmn2.state_dict()}, ckpt)
    msg, out = run_test_tool(capsys, f'{root}/{DIGITS}', ckpt, '--work-dir',
                             str(tmp_path), *data_options(digits_subset))
    assert msg.startswith('test.py: error: ')
    assert ('another model family (the checkpoint is a DGMN2, the model '
            'a MogaNet)') in msg
    assert 'size mismatch' not in msg + out.out + out.err


def test_get_model_summarises_a_mismatch(root, digits_ckpt):
    with pytest.raises(
            CheckpointMismatchError,
            match='Likely cause: another model family'):
        mogazoo.get_model(f'{root}/configs/dgmn2/dgmn2-tiny_8xb128_in1k.py',
                          digits_ckpt)


def test_backbone_pretrained_of_another_arch_is_refused(official, root):
    _, src, _ = official['MogaNet']
    backbone = MODELS.build(
        dict(
            type='MogaNet',
            arch='tiny',
            init_cfg=dict(
                type='Pretrained', checkpoint=src, prefix='backbone.')))
    with pytest.raises(
            CheckpointMismatchError, match='another arch of MogaNet'):
        backbone.init_weights()
    backbone = MODELS.build(
        dict(
            type='MogaNet',
            arch='xtiny',
            init_cfg=dict(type='Pretrained', checkpoint=src, prefix='head.')))
    with pytest.raises(CheckpointMismatchError, match='does not fit'):
        backbone.init_weights()


# ------------------------------------------------------ config mistakes


def run_train_tool(*argv):
    """tools/train.py in this process; returns its exit message."""
    return str(tool_exit('tools/train.py', *argv))


def test_unknown_top_level_option_is_refused(root, tmp_path):
    msg = run_train_tool(f'{root}/{DIGITS}', '--work-dir', str(tmp_path),
                         '--cfg-options', 'trian_cfg.max_epochs=1')
    assert "Unknown top-level config key 'trian_cfg'" in msg
    assert "did you mean 'train_cfg'" in msg
    assert not os.listdir(tmp_path)


def test_known_runner_keys_are_accepted(root):
    cfg = load_config(f'{root}/{DIGITS}', {
        'experiment_name': 'x',
        'train_cfg.max_epochs': 1
    })
    assert cfg.train_cfg.max_epochs == 1 and cfg.experiment_name == 'x'


@pytest.mark.parametrize('option,match', [
    ('model.head.num_classes', r'train_dataloader dataset has 10 classes'),
    ('data_preprocessor.num_classes', r'data_preprocessor.num_classes is '
     r'20 but model.head.num_classes is 10'),
])
def test_num_classes_against_the_dataset(option, match, root, digits_subset,
                                         tmp_path):
    cfg = tiny_cfg(f'{root}/{DIGITS}', digits_subset, tmp_path, {option: 20})
    runner = build_runner(cfg)
    record = RecordHook(lambda runner: runner.iter)
    runner.register_hook(record)
    with pytest.raises(ValueError, match=match):
        runner.train()
    assert record.per_iter == []  # stopped before the first iteration


def train_data(data_root):
    return ['--cfg-options'] + [
        f'{split}_dataloader.dataset.data_root={data_root}'
        for split in ('train', 'val')
    ]


def test_resume_without_a_checkpoint(root, tmp_path, digits_subset):
    empty = tmp_path / 'empty'
    empty.mkdir()
    for work_dir in (empty, tmp_path / 'mistyped'):
        msg = run_train_tool(f'{root}/{DIGITS}', '--work-dir', str(work_dir),
                             '--resume', *train_data(digits_subset))
        assert msg.startswith('train.py: error: --resume: nothing to resume')
        assert str(work_dir) in msg and '--auto-resume' in msg
    # the explicit start-fresh flag keeps the old behaviour
    assert check_resume(str(empty), allow_fresh=True) is None
    # a last_checkpoint naming a file that is gone
    (empty / 'last_checkpoint').write_text(str(empty / 'epoch_3.pth'))
    with pytest.raises(
            FileNotFoundError, match='epoch_3.pth, which does '
            'not exist'):
        check_resume(str(empty), allow_fresh=True)
    (empty / 'epoch_3.pth').write_bytes(b'')
    assert check_resume(str(empty)) == str(empty / 'epoch_3.pth')


def test_shortened_max_epochs_warns(root):
    cfg = load_config(f'{root}/{DIGITS}', {'train_cfg.max_epochs': 3})
    warnings = check_schedule(cfg)
    assert len(warnings) == 1
    assert ('param_scheduler[1] (CosineAnnealingLR) ends at epoch 12 but '
            'train_cfg.max_epochs is 3') in warnings[0]
    assert check_schedule(load_config(f'{root}/{DIGITS}')) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks CPU machines')
def test_amp_without_gpu_is_one_line(root, tmp_path, digits_subset):
    msg = run_train_tool(f'{root}/{DIGITS}', '--work-dir', str(tmp_path),
                         '--amp', *train_data(digits_subset))
    assert msg.startswith('train.py: error: --amp needs a CUDA GPU')
    assert '\n' not in msg


def test_tools_add_the_safety_hooks_to_every_config(root, digits_subset,
                                                    tmp_path):
    """mmdet / mmseg runtimes do not name mogazoo's hooks: the tools add
    them (with options from the config kept), swap mmengine's
    CheckpointHook for the atomic one, and accept None to turn one off."""
    det = load_config(
        f'{root}/configs/moganet/det/retinanet_moganet-xtiny_fpn_1x_coco.py',
        {'default_hooks.finite_check.enable': False})
    add_safety_hooks(det)
    hooks = det.default_hooks
    assert hooks.checkpoint.type == 'mmpretrain.AtomicCheckpointHook'
    assert hooks.checkpoint_fit.type == 'mmpretrain.CheckpointFitHook'
    assert hooks.finite_check == dict(
        type='mmpretrain.FiniteCheckHook', enable=False)
    cfg = tiny_cfg(f'{root}/{DIGITS}', digits_subset, tmp_path, {
        'default_hooks.checkpoint_fit': None,
        'default_hooks.finite_check': None
    })
    runner = build_runner(cfg)  # mmengine alone would assert on None
    names = {type(h).__name__ for h in runner.hooks}
    assert 'CheckpointFitHook' not in names
    assert 'FiniteCheckHook' not in names
    assert {'AtomicCheckpointHook', 'NumClassCheckHook'} <= names


def test_eval_report_refuses_a_checkpoint_that_does_not_fit(
        root, digits_subset, tmp_path):
    fresh = build(f'{root}/{DIGITS}', **{'model.head.num_classes': 20})
    ckpt = str(tmp_path / 'head20.pth')
    save_checkpoint({'state_dict': fresh.state_dict()}, ckpt)
    code = tool_exit('tools/analysis_tools/eval_report.py',
                     f'{root}/{DIGITS}', ckpt, '--out-dir',
                     str(tmp_path / 'report'), '--no-progress',
                     '--cfg-options',
                     f'test_dataloader.dataset.data_root={digits_subset}')
    assert str(code).startswith('eval_report.py: error: ')
    assert "another class count (the checkpoint's head has 20" in str(code)
    assert not (tmp_path / 'report').exists()
