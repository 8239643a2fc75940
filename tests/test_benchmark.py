"""tools/analysis_tools/benchmark.py and mogazoo.utils.benchmark: command
line, timing, errors (the input size: tests/test_input_size.py)."""
import json
import re

import pytest
import torch

import mogazoo  # noqa: F401
from mogazoo.utils.benchmark import benchmark, compare, round_order, summarize
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


# seconds of the timed iterations (2 of a batch of 4) in each of 5 rounds,
# as --compare records them: in the third round the machine was busy
TIMINGS = {
    'eager': [0.0412, 0.0398, 0.0905, 0.0405, 0.0401],
    'compiled': [0.0198, 0.0203, 0.0441, 0.0207, 0.0195],
}


def test_summarize_takes_medians_over_rounds_and_ratios_to_the_first():
    res = summarize(['eager', 'compiled', 'batch 8'], [
        TIMINGS['eager'], TIMINGS['compiled'],
        [2 * t for t in TIMINGS['eager']]
    ], [4, 4, 8], 2, [10., 30., 20.])
    assert [r['label'] for r in res] == ['eager', 'compiled', 'batch 8']
    # images/s = batch * iters / seconds; the median round, not the mean:
    # the busy round moves neither the speed nor the ratio
    eager, compiled, batch8 = res
    assert eager['images_per_sec'] == pytest.approx(8 / 0.0405)
    assert (eager['min'], eager['max']) == pytest.approx(
        (8 / 0.0905, 8 / 0.0398))
    assert compiled['images_per_sec'] == pytest.approx(8 / 0.0203)
    assert (compiled['min'], compiled['max']) == pytest.approx(
        (8 / 0.0441, 8 / 0.0195))
    assert eager['ratio'] == 1
    assert compiled['ratio'] == pytest.approx(0.0405 / 0.0203)
    # twice the images in twice the time: the same speed
    assert batch8['images_per_sec'] == pytest.approx(8 / 0.0405)
    assert batch8['ratio'] == pytest.approx(1)
    assert [r['peak_mem_mb'] for r in res] == [10., 30., 20.]


def test_compare_interleaves_the_variants(monkeypatch):
    """compare() with the timings above in place of the clock: warm-up
    first, then each round every variant, the order rotated by one; the
    result is summarize() of the timed rounds."""
    import mogazoo.utils.benchmark as benchmark_module
    third = [0.04] * 5
    recorded = {  # the first call of each: its warm-up
        'eager': [1.0] + TIMINGS['eager'],
        'compiled': [1.0] + TIMINGS['compiled'],
        'third': [1.0] + third,
    }
    calls = []

    def timed(run, iters, device, train):
        calls.append((run, iters))
        return recorded[run].pop(0)

    # the closure of a variant is its label here
    monkeypatch.setattr(benchmark_module, 'prepare', lambda model, *a: model)
    monkeypatch.setattr(benchmark_module, '_timed', timed)
    labels = ['eager', 'compiled', 'third']
    res = compare([
        dict(label=label, model=label, inputs=torch.zeros(4, 1))
        for label in labels
    ],
                  warmup=1,
                  iters=2,
                  rounds=5)
    order = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2], [1, 2, 0]]
    assert [round_order(3, r) for r in range(5)] == order
    assert calls == [(label, 1) for label in labels] + [(labels[i], 2)
                                                        for r in order
                                                        for i in r]
    assert all(not rest for rest in recorded.values())
    assert res == summarize(labels,
                            [TIMINGS['eager'], TIMINGS['compiled'], third],
                            [4, 4, 4], 2, [r['peak_mem_mb'] for r in res])
    assert all(r['peak_mem_mb'] >= 0 for r in res)
    with pytest.raises(ValueError, match='rounds'):
        compare([dict(label='a', model='a', inputs=torch.zeros(1))], rounds=0)


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
