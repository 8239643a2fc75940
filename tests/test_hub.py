"""The zoo contract: every model by name in mmpretrain and mogazoo, and
``pretrained`` in one line through the download / check / convert / cache
path of :mod:`mogazoo.checkpoint.hub`, served here by a local HTTP server on
127.0.0.1 (no other network)."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mmpretrain
import numpy as np
import pytest
import torch
from mmpretrain.apis import ModelHub

import mogazoo
from mogazoo.checkpoint import hub
from mogazoo.checkpoint.fit import CheckpointMismatchError
from helpers import convert_with_tool, logits, official_checkpoint

NAMES = {  # family: (model name, input size)
    'MogaNet': ('moganet-xtiny_8xb128_in1k', 64),
    'FasterViT': ('fastervit-0_32xb128_in1k', 64),
    'DGMN2': ('dgmn2-tiny_8xb128_in1k', 64),
}


class FileServer(ThreadingHTTPServer):
    """Serves ``files`` ({name: bytes}) with HTTP Range support; records
    every request; a name in ``truncate_once`` gets half of its body once,
    with the full Content-Length, and the connection closed."""

    def __init__(self):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.files, self.requests, self.truncate_once = {}, [], set()

    def url(self, name):
        return f'http://127.0.0.1:{self.server_address[1]}/{name}'


class _Handler(BaseHTTPRequestHandler):

    def do_GET(self):  # noqa: N802 - the http.server hook name
        srv = self.server
        name = self.path.lstrip('/')
        srv.requests.append((name, self.headers.get('Range')))
        data = srv.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r'bytes=(\d+)-', self.headers.get('Range') or '')
        if match:
            start = int(match[1])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header('Content-Range',
                             f'bytes {start}-{len(data) - 1}/{len(data)}')
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if name in srv.truncate_once:
            srv.truncate_once.discard(name)
            self.wfile.write(body[:len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def server():
    srv = FileServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope='module')
def official(tmp_path_factory):
    """Per family: the official-layout file's bytes and the model built from
    the converter tool's output (the reference)."""
    tmp = tmp_path_factory.mktemp('hub_official')
    out = {}
    for family, (name, _) in NAMES.items():
        src = official_checkpoint(family, tmp / f'{family}.pth')
        dst = convert_with_tool(family, src, tmp / f'{family}_conv.pth')
        with open(src, 'rb') as f:
            out[family] = (f.read(), mogazoo.get_model(name, dst), dst)
    return out


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('MOGAZOO_HOME', str(tmp_path / 'home'))
    return tmp_path / 'home' / 'checkpoints'


def serve(server, official, family, name=None):
    name = name or f'{family.lower()}_official.pth.tar'
    server.files[name] = official[family][0]
    return server.url(name)


def cached(home):
    return sorted(osp.basename(p) for p in glob.glob(str(home / '*')))


# ------------------------------------------------------------------ names


def test_every_config_has_a_name(root):
    index = hub.model_index()
    configs = sorted(
        p for fam in ('moganet', 'fastervit', 'dgmn2')
        for p in glob.glob(f'{root}/configs/{fam}/*.py'))
    assert sorted(osp.realpath(e['config']) for e in index.values()) == \
        [osp.realpath(p) for p in configs]
    assert 'moganet-xtiny_1xb64_digits' in index


def test_names_in_mmpretrain_and_mogazoo():
    moga = mmpretrain.list_models('*moganet*')
    assert moga and moga == mogazoo.list_models('*moganet*')
    assert 'moganet-tiny_8xb128_in1k' in moga
    for name in mogazoo.list_models():
        assert ModelHub.has(name)
        assert name in mmpretrain.list_models(name)
    assert mogazoo.list_models('fastervit-4_in21k') == \
        mmpretrain.list_models('*fastervit-4_in21k*')


def test_config_path_model_carries_metainfo(root):
    """mmpretrain.inference_model on a model built from a config path (it
    raised NotImplementedError: no metainfo) and by name."""
    img = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype('uint8')
    config = f'{root}/configs/moganet/moganet-xtiny_1xb64_digits.py'
    model = mmpretrain.get_model(config)
    assert model._metainfo.name == 'moganet-xtiny_1xb64_digits'
    assert model._dataset_meta['classes'] == tuple('0123456789')
    by_path = mmpretrain.inference_model(model, img)
    assert by_path['pred_class'] in tuple('0123456789')
    custom = mmpretrain.get_model(
        f'{root}/configs/custom/moganet-xtiny_ft-head_image-folder.py')
    assert custom._metainfo.results[0].task == 'Image Classification'
    # mogazoo.get_model's models work with mmpretrain's API too
    ours = mogazoo.get_model('moganet-xtiny_1xb64_digits')
    ours.load_state_dict(model.state_dict())
    assert mmpretrain.inference_model(ours, img)['pred_scores'].tolist() == \
        by_path['pred_scores'].tolist()


def test_other_models_are_left_to_mmpretrain():
    model = mmpretrain.get_model('resnet18_8xb32_in1k')
    assert model._metainfo.name == 'resnet18_8xb32_in1k'
    assert type(model.backbone).__module__.startswith('mmpretrain.')


def test_no_weights_is_an_error():
    with pytest.raises(ValueError, match='no published weights'):
        mmpretrain.get_model('moganet-xtiny_1xb64_digits', pretrained=True)
    with pytest.raises(ValueError, match='no published weights'):
        mogazoo.get_model('dgmn2-tiny_8xb64-mindspore_in1k', pretrained=True)


# ------------------------------------------------------------- pretrained


@pytest.mark.parametrize('family', list(NAMES))
def test_pretrained_url_converted_cached(family, server, official, home):
    name, size = NAMES[family]
    url = serve(server, official, family)
    ref = logits(official[family][1], size)
    model = mmpretrain.get_model(name, pretrained=url)
    assert torch.equal(logits(model, size), ref)
    assert cached(home) == [
        f'{family.lower()}_official.mogazoo.pth',
        f'{family.lower()}_official.pth.tar',
        f'{family.lower()}_official.pth.tar.sha256'
    ]
    # later calls: the converted cache, no network
    seen = len(server.requests)
    del server.files[osp.basename(url)]
    assert torch.equal(logits(mogazoo.get_model(name, url), size), ref)
    assert torch.equal(
        logits(mmpretrain.get_model(name, pretrained=url), size), ref)
    assert len(server.requests) == seen


def test_pretrained_true_checks_the_metafile_hash(server, official, home,
                                                  monkeypatch):
    name, size = NAMES['MogaNet']
    url = serve(server, official, 'MogaNet', 'moganet_true.pth')
    entry = hub.model_index()[name]
    monkeypatch.setitem(entry, 'weights', url)
    monkeypatch.setitem(ModelHub._models_dict[name].data, 'Weights', url)
    good = hub.hashlib.sha256(official['MogaNet'][0]).hexdigest()
    monkeypatch.setitem(entry, 'sha256', '0' * 64)
    with pytest.raises(hub.DownloadError, match='sha256 mismatch'):
        mmpretrain.get_model(name, pretrained=True)
    assert cached(home) == []  # nothing kept
    monkeypatch.setitem(entry, 'sha256', good)
    model = mmpretrain.get_model(name, pretrained=True)
    assert torch.equal(
        logits(model, size), logits(official['MogaNet'][1], size))
    assert torch.equal(
        logits(mogazoo.get_model(name, True), size), logits(model, size))


def test_truncated_download_resumes(server, official, home):
    name, size = NAMES['DGMN2']
    url = serve(server, official, 'DGMN2', 'dgmn2_trunc.pth')
    server.truncate_once.add('dgmn2_trunc.pth')
    with pytest.raises(hub.DownloadError, match='call again to resume'):
        mmpretrain.get_model(name, pretrained=url)
    assert cached(home) == ['dgmn2_trunc.pth.part']  # no checkpoint
    model = mmpretrain.get_model(name, pretrained=url)
    assert server.requests[-1][1] == \
        f'bytes={len(official["DGMN2"][0]) // 2}-'  # resumed
    assert torch.equal(logits(model, size), logits(official['DGMN2'][1], size))


def test_corrupt_partial_download_is_deleted(server, official, home):
    """An interrupted download whose kept part is corrupt: the resumed file
    fails the published hash and nothing stays; the retry starts over."""
    url = serve(server, official, 'MogaNet', 'moganet_part.pth')
    data = official['MogaNet'][0]
    os.makedirs(home)
    with open(home / 'moganet_part.pth.part', 'wb') as f:
        f.write(b'\0' * 1000)
    sha = hub.hashlib.sha256(data).hexdigest()
    with pytest.raises(hub.DownloadError, match='sha256 mismatch'):
        hub.download(url, sha256=sha, progress=False)
    assert cached(home) == []
    path = hub.download(url, sha256=sha, progress=False)
    assert hub.sha256_file(path) == sha


def test_hash_in_file_name(server, official, home):
    data = official['MogaNet'][0]
    sha = hub.hashlib.sha256(data).hexdigest()
    server.files['m-deadbeef.pth'] = data
    server.files[f'm-{sha[:8]}.pth'] = data
    with pytest.raises(hub.DownloadError, match='expected deadbeef'):
        hub.download(server.url('m-deadbeef.pth'), progress=False)
    assert hub.download(server.url(f'm-{sha[:8]}.pth'), progress=False)


def test_offline_and_web_page_errors_name_url_and_path(server, home):
    url = 'http://127.0.0.1:9/nothing_here.pth'  # discard port: refused
    with pytest.raises(hub.DownloadError) as err:
        mmpretrain.get_model(NAMES['MogaNet'][0], pretrained=url)
    assert url in str(err.value)
    assert str(home / 'nothing_here.pth') in str(err.value)
    server.files['page.pth'] = b'<!DOCTYPE html><html>sign in</html>'
    with pytest.raises(hub.DownloadError, match='web page'):
        hub.download(server.url('page.pth'), progress=False)
    drive = 'https://drive.google.com/file/d/abc/view?usp=sharing'
    with pytest.raises(hub.DownloadError, match='by hand'):
        hub.download(drive)
    # a file put at the named path by hand is used with no network
    with open(hub.cache_path(drive), 'wb') as f:
        f.write(b'weights')
    assert hub.download(drive) == hub.cache_path(drive)


def test_a_file_that_does_not_fit_is_an_error(official, server, home):
    """mmpretrain's get_model would log missing keys and go on."""
    _, _, dst = official['MogaNet']  # MogaNet-XT weights
    with pytest.raises(CheckpointMismatchError, match='another arch'):
        mmpretrain.get_model('moganet-tiny_8xb128_in1k', pretrained=dst)
    url = serve(server, official, 'FasterViT')
    with pytest.raises(CheckpointMismatchError):
        mmpretrain.get_model('moganet-xtiny_8xb128_in1k', pretrained=url)


def test_inferencer_by_name(server, official, home):
    from mmpretrain import ImageClassificationInferencer
    name, _ = NAMES['MogaNet']
    url = serve(server, official, 'MogaNet', 'moganet_inf.pth')
    img = (np.random.default_rng(1).random((80, 96, 3)) * 255).astype('uint8')
    inferencer = ImageClassificationInferencer(name, pretrained=url)
    [got] = inferencer(img)
    ref = mmpretrain.inference_model(official['MogaNet'][1], img)
    assert got['pred_label'] == ref['pred_label']
    assert np.allclose(got['pred_scores'], ref['pred_scores'], atol=1e-6)
    assert got['pred_class'] == ref['pred_class']  # ImageNet class names
    again = mmpretrain.inference_model(name, img, pretrained=url)
    assert again['pred_label'] == ref['pred_label']


# -------------------------------------------------------------------- mim


@pytest.mark.slow
def test_mim_sees_the_installed_package(root, tmp_path, digits_subset):
    """A wheel install carries configs, tools and the model index in
    mogazoo/.mim, where openmim looks (skipped where openmim is absent:
    it is optional)."""
    pytest.importorskip('mim')
    target = tmp_path / 'site'
    env = dict(os.environ, PYTHONPATH=str(target), OMP_NUM_THREADS='1')
    subprocess.run([
        sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
        '--no-build-isolation', '--target',
        str(target), root
    ],
                   check=True,
                   cwd=tmp_path,
                   env=env)
    mim_root = target / 'mogazoo' / '.mim'
    assert (mim_root / 'model-index.yml').is_file()
    assert (mim_root / 'tools' / 'train.py').is_file()
    assert not (target / 'tools').exists()  # no stray top-level package
    mim = [sys.executable, '-m', 'mim']
    out = subprocess.run(
        mim + ['search', 'mogazoo', '--model', 'moganet'],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env).stdout
    for name in mogazoo.list_models('*moganet*'):
        assert f'config id: {name}' in out
    data = [
        f'{s}_dataloader.dataset.data_root={digits_subset}'
        for s in ('train', 'val', 'test')
    ]
    run = subprocess.run(
        mim + [
            'train', 'mogazoo', 'moganet-xtiny_1xb64_digits.py', '--gpus', '0',
            '--work-dir',
            str(tmp_path / 'wd'), '--cfg-options', *data,
            'train_cfg.max_epochs=1', 'train_dataloader.batch_size=100',
            'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False'
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert str(mim_root / 'tools' / 'train.py') in run.stdout
    assert (tmp_path / 'wd' / 'epoch_1.pth').is_file()
