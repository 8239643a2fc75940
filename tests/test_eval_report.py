"""mogazoo.evaluation and tools/analysis_tools/eval_report.py."""
import csv
import json
import os
import os.path as osp
import pickle
import runpy
import sys

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, save_checkpoint
from PIL import Image
from sklearn.metrics import (confusion_matrix, precision_recall_fscore_support,
                             roc_auc_score, top_k_accuracy_score)

import mogazoo
from mogazoo.evaluation import (classification_summary, load_results,
                                predict_dataset, report, results_to_arrays,
                                write_report)

NAME = 'moganet-xtiny_1xb64_digits'
TOOL = 'tools/analysis_tools/eval_report.py'


def synthetic(num_classes=6, per_class=20, seed=0):
    """Probabilities whose argmax is the label except for every 5th image
    of each class, predicted as the next class: a known confusion matrix."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), per_class)
    wrong = np.arange(len(labels)) % 5 == 0
    preds = np.where(wrong, (labels + 1) % num_classes, labels)
    scores = rng.random((len(labels), num_classes))
    scores[np.arange(len(labels)), preds] += 1
    return scores / scores.sum(1, keepdims=True), labels, preds


def read_csv(path):
    with open(path) as f:
        return {row['name']: row for row in csv.DictReader(f)}


def test_report_matches_sklearn(tmp_path):
    scores, labels, preds = synthetic()
    classes = [f'c{i}' for i in range(6)]
    summary = write_report(scores, labels, str(tmp_path), classes, (1, 2, 5))

    expected = np.zeros((6, 6), int)
    np.add.at(expected, (labels, preds), 1)
    assert summary['confusion_matrix'] == expected.tolist()
    np.testing.assert_allclose(
        summary['confusion_matrix_normalized'],
        confusion_matrix(labels, preds, normalize='true'))
    for k in (1, 2, 5):
        assert summary['topk_accuracy'][f'top{k}'] == pytest.approx(
            top_k_accuracy_score(labels, scores, k=k))
    assert summary['topk_accuracy']['top1'] == pytest.approx(1 - np.mean(
        preds != labels))

    rows = read_csv(tmp_path / 'classification_report.csv')
    assert list(rows) == classes + ['macro avg', 'weighted avg']
    prec, rec, f1, support = precision_recall_fscore_support(labels, preds)
    for c, name in enumerate(classes):
        row = rows[name]
        assert float(row['precision']) == pytest.approx(prec[c])
        assert float(row['recall']) == pytest.approx(rec[c])
        assert float(row['f1']) == pytest.approx(f1[c])
        assert int(row['support']) == support[c]
        auc = roc_auc_score(labels == c, scores[:, c])
        assert 0 <= auc <= 1 and float(row['auc']) == pytest.approx(auc)
    for avg in ('macro', 'weighted'):
        want = precision_recall_fscore_support(labels, preds, average=avg)
        got = [
            float(rows[f'{avg} avg'][k]) for k in ('precision', 'recall', 'f1')
        ]
        np.testing.assert_allclose(got, want[:3])
    assert float(rows['macro avg']['auc']) == pytest.approx(
        roc_auc_score(labels, scores, multi_class='ovr'))

    with open(tmp_path / 'summary.json') as f:
        assert json.load(f)['topk_accuracy'] == summary['topk_accuracy']
    text = (tmp_path / 'classification_report.txt').read_text()
    assert 'c5' in text and 'weighted avg' in text and 'top2 accuracy' in text
    for png in ('roc.png', 'confusion_matrix.png'):
        with Image.open(tmp_path / png) as img:
            assert img.format == 'PNG' and min(img.size) > 100
            assert np.asarray(img.convert('L')).std() > 0  # not blank


def test_class_without_images_has_no_auc(tmp_path):
    scores, labels, _ = synthetic(num_classes=4)
    keep = labels != 3
    summary = write_report(scores[keep], labels[keep], str(tmp_path))
    assert np.isnan(summary['per_class'][3]['auc'])
    assert summary['per_class'][3]['support'] == 0
    aucs = [
        roc_auc_score(labels[keep] == c, scores[keep, c]) for c in range(3)
    ]
    assert summary['macro_avg']['auc'] == pytest.approx(np.mean(aucs))
    with open(tmp_path / 'summary.json') as f:
        assert json.load(f)['per_class'][3]['auc'] is None
    assert list(summary['topk_accuracy']) == ['top1']  # no top-5 of 4


@pytest.fixture(scope='module')
def digits_run(digits_subset, tmp_path_factory):
    """A random MogaNet-XT on the digits subset: its checkpoint, its scores
    from predict_dataset and the pickle DumpResults (tools/test.py --out)
    writes for the same run."""
    tmp = tmp_path_factory.mktemp('report')
    opts = {
        'test_dataloader.dataset.data_root': digits_subset,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False
    }
    torch.manual_seed(0)
    model = mogazoo.get_model(NAME, **opts)
    ckpt = str(tmp / 'model.pth')
    save_checkpoint({'state_dict': model.state_dict()}, ckpt)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loader = Runner.build_dataloader(model.cfg.test_dataloader)
    scores, labels = predict_dataset(model, loader, progress=False)
    pkl = str(tmp / 'results.pkl')
    evaluator = Evaluator(dict(type='DumpResults', out_file_path=pkl))
    with torch.no_grad():
        for batch in loader:
            evaluator.process(model.test_step(batch), batch)
    evaluator.evaluate(len(loader.dataset))
    return dict(
        ckpt=ckpt, scores=scores, labels=labels, pkl=pkl, opts=opts, tmp=tmp)


def run_tool(*args, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [TOOL, *args])
    runpy.run_path(TOOL, run_name='__main__')


def cfg_options(opts):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def test_dumped_results_give_the_model_report(root, digits_run, digits_subset,
                                              monkeypatch):
    monkeypatch.chdir(root)
    scores, labels = digits_run['scores'], digits_run['labels']
    assert scores.shape == (100, 10)
    np.testing.assert_allclose(scores.sum(1), 1, atol=1e-5)  # softmax
    dumped = load_results(digits_run['pkl'])
    assert {'pred_score', 'gt_label', 'img_path'} <= set(dumped[0])
    np.testing.assert_allclose(results_to_arrays(dumped)[0], scores, atol=1e-6)
    out = digits_run['tmp'] / 'from_results'
    run_tool(
        '--results',
        digits_run['pkl'],
        '--out-dir',
        str(out),
        '--config',
        NAME,
        *cfg_options(digits_run['opts']),
        monkeypatch=monkeypatch)
    with open(out / 'summary.json') as f:
        summary = json.load(f)
    want = classification_summary(scores, labels, topk=(1, 5))
    assert summary['classes'] == sorted(
        os.listdir(osp.join(digits_subset, 'val')))
    assert summary['topk_accuracy'] == pytest.approx(want['topk_accuracy'])
    assert summary['confusion_matrix'] == want['confusion_matrix']
    for got, exp in zip(summary['per_class'], want['per_class']):
        assert got['auc'] == pytest.approx(exp['auc'])
        assert got['f1'] == pytest.approx(exp['f1'])


def test_tool_runs_the_model(root, digits_run, monkeypatch, capsys):
    import mmengine.utils
    bars = []

    class Bar(mmengine.utils.ProgressBar):  # its stream is bound at import

        def update(self, num_tasks=1):
            super().update(num_tasks)
            bars.append(self.completed)

    monkeypatch.setattr(report, 'ProgressBar', Bar)
    monkeypatch.chdir(root)
    out = digits_run['tmp'] / 'from_model'
    run_tool(
        NAME,
        digits_run['ckpt'],
        '--out-dir',
        str(out),
        *cfg_options(digits_run['opts']),
        monkeypatch=monkeypatch)
    assert bars[-1] == 100  # the progress bar
    out_text = capsys.readouterr().out.lstrip()
    assert out_text.startswith('100 images, 10 classes: top1 ')
    assert sorted(os.listdir(out)) == [
        'classification_report.csv', 'classification_report.txt',
        'confusion_matrix.png', 'roc.png', 'summary.json'
    ]
    with open(out / 'summary.json') as f:
        summary = json.load(f)
    want = classification_summary(digits_run['scores'], digits_run['labels'])
    assert summary['confusion_matrix'] == want['confusion_matrix']
    assert summary['macro_avg']['auc'] == pytest.approx(
        want['macro_avg']['auc'], abs=1e-6)


@pytest.mark.parametrize('case',
                         ['results', 'scores', 'checkpoint', 'classes'])
def test_bad_inputs_name_the_culprit(case, root, digits_run, tmp_path,
                                     monkeypatch):
    monkeypatch.chdir(root)
    out = ['--out-dir', str(tmp_path / 'out')]
    if case == 'results':
        args, culprit = ['--results', str(tmp_path / 'none.pkl')], \
            'none.pkl'
    elif case == 'scores':
        pkl = tmp_path / 'labels_only.pkl'
        with open(pkl, 'wb') as f:
            pickle.dump([{'gt_label': torch.tensor([1])}], f)
        args, culprit = ['--results', str(pkl)], 'pred_score'
    elif case == 'checkpoint':
        args, culprit = [NAME, str(tmp_path / 'gone.pth')], 'gone.pth'
    else:
        args = ['--results', digits_run['pkl'], '--classes', 'a', 'b']
        culprit = '2 class names for 10'
    with pytest.raises(SystemExit) as exc:
        run_tool(*args, *out, monkeypatch=monkeypatch)
    assert culprit in str(exc.value.code)
