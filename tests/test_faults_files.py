"""Untrusted and damaged files (issue 13, items 2, 6 and 7): crafted
pickles never run, damaged checkpoints are caught, converters never
overwrite their input or leave temporary files.

Tools run in-process (``runpy``, their exit message is the ``SystemExit``
code) to keep the file fast."""
import argparse
import datetime
import os
import pickle
import runpy
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import HistoryBuffer
from mmpretrain.structures import DataSample

import mogazoo  # noqa: F401
from mogazoo.checkpoint.converters import save_mmengine_checkpoint
from mogazoo.checkpoint.io import (UnsafeFileError, check_checkpoint,
                                   load_plain_pickle, load_torch_file,
                                   torch_file_globals)
from mogazoo.evaluation import load_results

CONVERTER = 'tools/model_converters/moganet_to_mogazoo.py'
REPORT = 'tools/analysis_tools/eval_report.py'
CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'


class SystemCall:
    """Pickles as ``posix.system(command)``."""

    def __init__(self, marker):
        self.command = f'touch {marker}'

    def __reduce__(self):
        return os.system, (self.command, )


class ExecCall:
    """Pickles as ``builtins.exec(source)``."""

    def __init__(self, marker):
        self.source = f'open({str(marker)!r}, "w").close()'

    def __reduce__(self):
        return exec, (self.source, )


PAYLOADS = {'posix.system': SystemCall, 'builtins.exec': ExecCall}


def run_in_process(tool, *args, monkeypatch):
    """Run a tool's ``__main__`` here; returns the ``SystemExit`` code
    (None when it finished normally)."""
    monkeypatch.setattr(sys, 'argv', [tool, *map(str, args)])
    try:
        runpy.run_path(tool, run_name='__main__')
    except SystemExit as exc:
        return exc.code
    return None


#: A few official MogaNet keys (all the converter needs to recognise the
#: layout): shape and the mogazoo key the converter maps them to.
OFFICIAL = {
    'patch_embed1.projection.0.weight':
    ((16, 3, 3, 3), 'backbone.patch_embeds.0.0.weight'),
    'blocks1.0.norm1.weight': ((32, ), 'backbone.stages.0.0.norm1.weight'),
    'norm1.weight': ((32, ), 'backbone.norms.0.weight'),
    'head.weight': ((10, 32), 'head.fc.weight'),
}


def official(seed=0):
    """Random tensors under the :data:`OFFICIAL` names."""
    g = torch.Generator().manual_seed(seed)
    return OrderedDict((k, torch.randn(*shape, generator=g))
                       for k, (shape, _) in OFFICIAL.items())


def timm_checkpoint(state_dict, **extra):
    """The layout timm's train.py saves (MogaNet and FasterViT releases)."""
    return dict(
        epoch=300,
        arch='moganet_xtiny',
        state_dict=OrderedDict(
            (f'module.{k}', v) for k, v in state_dict.items()),
        state_dict_ema=state_dict,
        version=2,
        **extra)


def dumped_results(path, num=12, num_classes=5, seed=0):
    """A results pickle as ``tools/test.py --out`` writes it (mmengine's
    ``DumpResults`` fed by mmpretrain data samples); returns the scores
    and labels it holds."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(num, num_classes, generator=g).softmax(1)
    labels = torch.randint(num_classes, (num, ), generator=g)
    samples = [
        DataSample(
            metainfo=dict(
                img_path=f'val/{i}.png', ori_shape=(8, 8), img_shape=(
                    64, 64))).set_gt_label(int(labels[i])).set_pred_score(
                        scores[i]) for i in range(num)
    ]
    evaluator = Evaluator(dict(type='DumpResults', out_file_path=str(path)))
    evaluator.process(samples, None)
    evaluator.evaluate(num)
    return scores.numpy(), labels.numpy()


# ---------------------------------------------------------------------------
# eval_report.py --results
# ---------------------------------------------------------------------------


def test_crafted_results_pickle_does_not_run(root, tmp_path, monkeypatch):
    monkeypatch.chdir(root)
    marker = tmp_path / 'MARKER'
    pkl = tmp_path / 'crafted.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump([{
            'pred_score': [0.5, 0.5],
            'gt_label': 0,
            'x': SystemCall(marker)
        }],
                    f,
                    protocol=2)
    code = run_in_process(
        REPORT,
        '--results',
        pkl,
        '--out-dir',
        tmp_path / 'out',
        monkeypatch=monkeypatch)
    assert isinstance(code, str), code  # a message: exit status 1
    assert 'posix.system' in code and 'crafted.pkl' in code
    assert not marker.exists()
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('protocol', [2, 4])
def test_exec_in_results_pickle_is_refused(protocol, root, tmp_path,
                                           monkeypatch):
    monkeypatch.chdir(root)
    marker = tmp_path / 'MARKER'
    pkl = tmp_path / 'exec.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump([ExecCall(marker)], f, protocol=protocol)
    code = run_in_process(
        REPORT,
        '--results',
        pkl,
        '--out-dir',
        tmp_path / 'out',
        monkeypatch=monkeypatch)
    assert isinstance(code, str) and 'builtins.exec' in code, code
    assert not marker.exists()
    with pytest.raises(UnsafeFileError, match='builtins.exec'):
        load_results(str(pkl))
    assert not marker.exists()


def test_global_named_at_load_time_is_refused(tmp_path):
    """A ``STACK_GLOBAL`` whose module name another call computes
    (``_codecs.decode(b'posix')``) is refused before anything runs."""
    marker = tmp_path / 'MARKER'

    def text(s):
        return pickle.SHORT_BINUNICODE + bytes([len(s)]) + s.encode()

    data = (b'\x80\x04' + text('_codecs') + text('decode') +
            pickle.STACK_GLOBAL + pickle.SHORT_BINBYTES + b'\x05posix' +
            text('ascii') + pickle.TUPLE2 + pickle.REDUCE + text('system') +
            pickle.STACK_GLOBAL + text(f'touch {marker}') + pickle.TUPLE1 +
            pickle.REDUCE + pickle.STOP)
    pkl = tmp_path / 'computed.pkl'
    pkl.write_bytes(data)
    with pytest.raises(UnsafeFileError, match='computed while loading'):
        load_plain_pickle(str(pkl))
    assert not marker.exists()


def test_genuine_results_give_the_same_report(root, tmp_path, monkeypatch):
    monkeypatch.chdir(root)
    pkl = tmp_path / 'results.pkl'
    scores, labels = dumped_results(pkl)
    with open(pkl, 'rb') as f:
        plain = pickle.load(f)  # what the tool read before: trusted here
    loaded = load_results(str(pkl))
    assert len(loaded) == len(plain) == 12
    for got, want in zip(loaded, plain):
        assert set(got) == set(want)
        assert torch.equal(got['pred_score'], want['pred_score'])
        assert torch.equal(got['gt_label'], want['gt_label'])
        assert got['img_path'] == want['img_path']
    out = tmp_path / 'out'
    assert run_in_process(
        REPORT,
        '--results',
        pkl,
        '--out-dir',
        out,
        '--topk',
        1,
        monkeypatch=monkeypatch) is None
    import json
    with open(out / 'summary.json') as f:
        summary = json.load(f)
    assert summary['num_samples'] == 12
    top1 = float(np.mean(scores.argmax(1) == labels))
    assert summary['topk_accuracy']['top1'] == pytest.approx(top1)


@pytest.mark.parametrize('protocol', [2, 5])
def test_plain_results_with_numpy_load(protocol, tmp_path):
    results = [
        dict(
            pred_score=np.linspace(0, 1, 4, dtype=np.float32),
            gt_label=np.int64(2),
            shape=torch.Size([4]),
            keys={'a', 'b'},
            meta=OrderedDict(raw=b'\x00\xff', dtype=torch.float16),
            tensor=torch.arange(3.).reshape(3, 1)[1:])
    ]
    pkl = tmp_path / 'numpy.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump(results, f, protocol=protocol)
    got = load_plain_pickle(str(pkl))[0]
    np.testing.assert_array_equal(got['pred_score'], results[0]['pred_score'])
    assert got['gt_label'] == 2 and got['keys'] == {'a', 'b'}
    assert got['meta'] == results[0]['meta']
    assert got['shape'] == torch.Size([4])
    assert torch.equal(got['tensor'], results[0]['tensor'])


# ---------------------------------------------------------------------------
# load_torch_file and the converters
# ---------------------------------------------------------------------------


def test_converter_refuses_system_call_even_if_trusted(root, tmp_path,
                                                       monkeypatch):
    monkeypatch.chdir(root)
    marker = tmp_path / 'MARKER'
    src = tmp_path / 'evil.pth'
    torch.save(timm_checkpoint(official(), x=SystemCall(marker)), src)
    dst = tmp_path / 'out.pth'
    code = run_in_process(
        CONVERTER, src, dst, '--trust-file', monkeypatch=monkeypatch)
    assert isinstance(code, str) and code.startswith('moganet_to_mogazoo')
    assert 'posix.system' in code and 'evil.pth' in code
    assert 'refused' in code and '--trust-file' not in code
    assert not marker.exists() and not dst.exists()


@pytest.mark.parametrize('legacy', [False, True])
@pytest.mark.parametrize('payload', sorted(PAYLOADS))
def test_dangerous_checkpoints_are_refused(payload, legacy, root, tmp_path,
                                           monkeypatch):
    monkeypatch.chdir(root)
    marker = tmp_path / 'MARKER'
    src = tmp_path / 'evil.pth'
    torch.save(
        timm_checkpoint(official(), x=PAYLOADS[payload](marker)),
        src,
        _use_new_zipfile_serialization=not legacy)
    assert payload in torch_file_globals(str(src))
    for trust in (False, True):
        with pytest.raises(UnsafeFileError, match=payload) as exc:
            load_torch_file(str(src), trust_file=trust)
        assert '--trust-file' not in str(exc.value)
    code = run_in_process(
        CONVERTER, src, tmp_path / 'o.pth', monkeypatch=monkeypatch)
    assert payload in code and '--trust-file' not in code
    assert not marker.exists() and not (tmp_path / 'o.pth').exists()


def test_unknown_harmless_class_gets_the_hint(root, tmp_path, monkeypatch):
    monkeypatch.chdir(root)
    src = tmp_path / 'dated.pth'
    torch.save(
        timm_checkpoint(official(), date=datetime.date(2023, 1, 1)), src)
    dst = tmp_path / 'out.pth'
    code = run_in_process(CONVERTER, src, dst, monkeypatch=monkeypatch)
    assert 'datetime.date' in code and '--trust-file' in code
    assert 'dated.pth' in code and not dst.exists()
    assert run_in_process(
        CONVERTER, src, dst, '--trust-file', monkeypatch=monkeypatch) is None
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(converted['head.fc.weight'], official()['head.weight'])


def test_official_checkpoint_with_args_converts(root, tmp_path, monkeypatch):
    """timm and DeiT pickle their training arguments as a Namespace."""
    monkeypatch.chdir(root)
    src = tmp_path / 'moganet_xtiny_sz224_8xbs128_ep300.pth.tar'
    args = argparse.Namespace(
        model='moganet_xtiny',
        lr=1e-3,
        drop_path=0.05,
        input_size=[3, 224, 224],
        mean=None)
    torch.save(timm_checkpoint(official(), args=args, metric=76.5), src)
    dst = tmp_path / 'out.pth'
    assert run_in_process(CONVERTER, src, dst, monkeypatch=monkeypatch) is None
    converted = torch.load(dst, weights_only=True)['state_dict']
    for key, value in official().items():
        assert torch.equal(converted[OFFICIAL[key][1]], value), key
    assert load_torch_file(str(src))['args'] == args
    assert argparse.Namespace not in \
        torch.serialization.get_safe_globals()  # allowed for the call only


def test_mmengine_checkpoints_still_load(tmp_path):
    """mmengine's message hub buffers (allow-listed by mogazoo.compat)
    load with and without trust, through the weights-only path."""
    path = tmp_path / 'epoch_1.pth'
    buffer = HistoryBuffer([1.0, 2.0], [1, 1])
    torch.save(
        dict(
            state_dict=official(),
            message_hub=dict(log_scalars={'train/loss': buffer})), path)
    for trust in (False, True):
        ckpt = load_torch_file(str(path), trust_file=trust)
        assert ckpt['message_hub']['log_scalars']['train/loss'].mean() == 1.5


def test_missing_and_truncated_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_torch_file(str(tmp_path / 'nope.pth'))
    good = tmp_path / 'good.pth'
    torch.save(timm_checkpoint(official()), good)
    for legacy in (False, True):
        torch.save(
            timm_checkpoint(official()),
            good,
            _use_new_zipfile_serialization=not legacy)
        bad = tmp_path / f'truncated_{legacy}.pth'
        bad.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
        for trust in (False, True):
            with pytest.raises(RuntimeError, match=bad.name) as exc:
                load_torch_file(str(bad), trust_file=trust)
            assert '--trust-file' not in str(exc.value)


# ---------------------------------------------------------------------------
# converter output paths
# ---------------------------------------------------------------------------


def leftovers(*folders):
    return [f for d in folders for f in os.listdir(d) if 'tmp' in f]


def test_converter_refuses_to_overwrite_its_input(root, tmp_path, monkeypatch):
    monkeypatch.chdir(root)
    src = tmp_path / 'moganet.pth'
    torch.save(timm_checkpoint(official()), src)
    before = src.read_bytes()
    link = tmp_path / 'link.pth'
    os.link(src, link)
    for dst in (src, f'{tmp_path}/./moganet.pth', link):
        code = run_in_process(CONVERTER, src, dst, monkeypatch=monkeypatch)
        assert isinstance(code, str) and 'is the input file' in code, code
        assert str(dst) in code
    assert src.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_converter_output_folder_is_an_error(root, tmp_path, monkeypatch):
    monkeypatch.chdir(root)
    src = tmp_path / 'moganet.pth'
    torch.save(timm_checkpoint(official()), src)
    folder = tmp_path / 'converted'
    folder.mkdir()
    code = run_in_process(CONVERTER, src, folder, monkeypatch=monkeypatch)
    assert isinstance(code, str) and 'is a folder' in code
    assert str(folder) in code
    assert os.listdir(folder) == [] and leftovers(tmp_path) == []


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    dst = tmp_path / 'out.pth'
    save_mmengine_checkpoint(official(), str(dst))
    before = dst.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b'half a checkpoint')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        save_mmengine_checkpoint(official(1), str(dst))
    assert dst.read_bytes() == before  # the old file is untouched
    assert sorted(os.listdir(tmp_path)) == ['out.pth']


# ---------------------------------------------------------------------------
# damaged checkpoint data
# ---------------------------------------------------------------------------


def damage_tensor_data(path):
    """Flip bytes inside the first tensor-data member of a zip checkpoint,
    leaving the zip directory (and its CRCs) as they were; returns the
    member's name."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist()
                    if '/data/' in i.filename and i.file_size >= 64)
    data = bytearray(open(path, 'rb').read())
    header = info.header_offset
    start = header + 30 + int.from_bytes(
        data[header + 26:header + 28], 'little') + int.from_bytes(
            data[header + 28:header + 30], 'little')
    for i in range(start + 8, start + 40):
        data[i] ^= 0xFF
    open(path, 'wb').write(bytes(data))
    return info.filename


def test_damaged_tensor_bytes_are_caught(root, tmp_path, monkeypatch):
    monkeypatch.chdir(root)
    ckpt = tmp_path / 'damaged.pth'
    save_mmengine_checkpoint(official(), str(ckpt))
    check_checkpoint(str(ckpt))  # intact
    member = damage_tensor_data(ckpt)
    with zipfile.ZipFile(ckpt) as zf:  # the directory is intact ...
        assert zf.namelist() and zf.testzip() == member  # ... the data not
    with pytest.raises(RuntimeError, match='damaged.pth') as exc:
        check_checkpoint(str(ckpt))
    assert member in str(exc.value) and 'CRC' in str(exc.value)
    code = run_in_process(
        'tools/test.py',
        CONFIG,
        ckpt,
        '--work-dir',
        tmp_path / 'work',
        '--cfg-options',
        f'test_dataloader.dataset.data_root={tmp_path}',
        monkeypatch=monkeypatch)
    assert isinstance(code, str) and code.startswith('test.py: error')
    assert 'damaged.pth' in code and member in code
