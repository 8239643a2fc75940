"""tools/analysis_tools/benchmark.py and mogazoo.utils.benchmark: command
line, timing, errors (the input size: tests/test_input_size.py)."""
import json
import re

import pytest
import torch

import mogazoo  # noqa: F401
from mogazoo.utils.benchmark import benchmark, compare
from runner_utils import load_tool

TOOL = 'tools/analysis_tools/benchmark.py'
bm = load_tool(TOOL)
DIGITS = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
FASTERVIT = 'configs/fastervit/fastervit-0_32xb128_in1k.py'


def test_command_line(root, capsys, monkeypatch):
    monkeypatch.chdir(root)  # the config relative to the repository
    previous = torch.get_num_threads()
    try:
        bm.main([
            DIGITS, '--batch-size', '2', '--warmup', '1', '--iters', '2',
            '--device', 'cpu', '--threads', '1'
        ])
    finally:
        torch.set_num_threads(previous)
    out = capsys.readouterr().out
    assert float(re.search(r'Images/s: ([\d.]+)', out)[1]) > 0
    assert float(re.search(r'Peak memory: (\d+) MiB', out)[1]) > 0
    assert 'cpu (1 threads), batch 2, input 3x32x32' in out


def test_fastervit_with_options(root, capsys):
    res = bm.main([
        f'{root}/{FASTERVIT}', '--batch-size', '1', '--shape', '64', '96',
        '--warmup', '0', '--iters', '1', '--device', 'auto', '--amp',
        '--channels-last', '--deploy'
    ])
    assert res['images_per_sec'] > 0 and res['batch_size'] == 1
    out = capsys.readouterr().out
    assert 'input 3x64x96, amp on, channels_last on, compile off, ' \
        'deploy on' in out


def test_deploy_needs_a_deploy_form(root):
    with pytest.raises(SystemExit, match='--deploy: DGMN2 has no deploy'):
        bm.main([
            f'{root}/configs/dgmn2/dgmn2-tiny_8xb128_in1k.py', '--deploy',
            '--batch-size', '1', '--iters', '1'
        ])


def test_benchmark_counts_images():
    res = benchmark(
        torch.nn.Conv2d(3, 4, 3),
        torch.randn(5, 3, 8, 8),
        'cpu',
        warmup=0,
        iters=3)
    assert (res['batch_size'], res['iters']) == (5, 3)
    assert res['images_per_sec'] == pytest.approx(15 / res['seconds'])
    assert res['peak_mem_mb'] > 0


def test_training_steps_update_the_weights():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    before = [p.detach().clone() for p in model.parameters()]
    res = benchmark(
        model, torch.randn(5, 3, 8, 8), 'cpu', warmup=1, iters=2, train=True)
    assert model.training and (res['batch_size'], res['iters']) == (5, 2)
    assert res['images_per_sec'] == pytest.approx(10 / res['seconds'])
    for old, new in zip(before, model.parameters()):
        assert new.grad is not None and not torch.equal(old, new)
    # inference leaves the weights alone and the model in eval mode
    before = [p.detach().clone() for p in model.parameters()]
    benchmark(model, torch.randn(5, 3, 8, 8), 'cpu', warmup=0, iters=1)
    assert not model.training
    assert all(map(torch.equal, before, model.parameters()))


def test_training_command_line(root, capsys):
    res = bm.main([
        f'{root}/{DIGITS}', '--train', '--amp', '--batch-size', '4',
        '--warmup', '1', '--iters', '2', '--device', 'cpu'
    ])
    assert res['images_per_sec'] > 0
    assert '2 timed training steps after 1' in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse: deploy is inference only
        bm.main([f'{root}/{DIGITS}', '--train', '--deploy'])


def test_errors(root, tmp_path):
    with pytest.raises(SystemExit) as exc:
        bm.main([str(tmp_path / 'nope.py')])
    assert 'nope.py' in str(exc.value.code)
    with pytest.raises(SystemExit):  # argparse: --shape takes H or H W
        bm.main([f'{root}/{DIGITS}', '--shape', '1', '2', '3'])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as exc:
            bm.main([f'{root}/{DIGITS}', '--device', 'cuda'])
        assert 'CUDA' in str(exc.value.code)


class Sleeper(torch.nn.Module):
    """A model whose speed is known: ``seconds`` per call."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.calls = 0
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        import time
        self.calls += 1
        time.sleep(self.seconds)
        return x.flatten(1) * self.w


def test_compare_interleaves_and_reports_ratios():
    slow, fast = Sleeper(0.02), Sleeper(0.005)
    x = torch.randn(4, 3, 2, 2)
    res = compare([
        dict(label='slow', model=slow, inputs=x),
        dict(label='fast', model=fast, inputs=x)
    ],
                  warmup=1,
                  iters=2,
                  rounds=3)
    assert [r['label'] for r in res] == ['slow', 'fast']
    assert slow.calls == fast.calls == 1 + 2 * 3
    assert res[0]['ratio'] == 1
    # 4 images per call: at most 200 and 800 img/s, ratio about 4
    assert res[0]['images_per_sec'] < 200 and res[1]['images_per_sec'] < 800
    assert 2 < res[1]['ratio'] < 4.5
    for r in res:
        assert r['min'] <= r['images_per_sec'] <= r['max']
        assert r['peak_mem_mb'] >= 0
    with pytest.raises(ValueError, match='rounds'):
        compare([dict(label='a', model=slow, inputs=x)], rounds=0)


def test_compare_command_line(root, tmp_path, capsys):
    out_json = tmp_path / 'cmp.json'
    previous = torch.get_num_threads()
    try:
        res = bm.main([
            f'{root}/{DIGITS}', '--batch-size', '2', '--warmup', '1',
            '--iters', '1', '--rounds', '2', '--threads', '1', '--compare',
            'eager', 'cl: channels_last',
            'narrow: model.backbone.drop_path_rate=0.2', '--json',
            str(out_json)
        ])
    finally:
        torch.set_num_threads(previous)
    assert [r['label'] for r in res] == ['eager', 'cl', 'narrow']
    out = capsys.readouterr().out
    assert '2 interleaved rounds of 1 iterations' in out
    assert re.search(r'^cl +[\d.]+ ', out, re.M)
    saved = json.loads(out_json.read_text())
    assert saved['results'] == res and saved['batch_size'] == 2


def test_compare_spec_errors(root):
    assert bm.parse_spec('a: compile x.y=[1,2]') == dict(
        label='a', flags={'compile'}, options={'x.y': [1, 2]})
    assert bm.parse_spec('model.backbone.sampler=dcn')['label'] == \
        'model.backbone.sampler=dcn'
    with pytest.raises(SystemExit):
        bm.parse_args([DIGITS, '--compare', 'fast: turbo'])
    with pytest.raises(SystemExit):
        bm.parse_args([DIGITS, '--json', 'x.json'])
    with pytest.raises(SystemExit):
        bm.parse_args([DIGITS, '--train', '--compare', 'deploy'])
    with pytest.raises(SystemExit, match='nope'):
        bm.main([
            f'{root}/{DIGITS}', '--compare', 'x: model.backbone.nope=1',
            '--iters', '1'
        ])
