"""Pretrained weights by name: the model index, download, verify, cache.

    >>> import mmpretrain, mogazoo
    >>> model = mmpretrain.get_model('moganet-tiny_8xb128_in1k',
    ...                              pretrained=True)

``pretrained=True`` (or an http(s) URL) goes through
:func:`mogazoo.checkpoint.load.load_url`:

1. the official file is downloaded once to ``$MOGAZOO_HOME/checkpoints``
   (default ``~/.cache/mogazoo/checkpoints``), with a progress bar, to a
   ``.part`` file that a later call resumes (HTTP ``Range``);
2. its sha256 is checked against the one the metafile records, the one in
   the file name (``name-<hex>.pth``, as torch.hub and OpenMMLab name their
   files) or the one the server publishes (the Hugging Face Hub's
   ``X-Linked-Etag``); where nobody publishes one, the hash of the first
   download is recorded next to the file (``.sha256``) and checked on every
   later conversion. A mismatch deletes the file;
3. an official checkpoint is converted once by the converter the tools run
   and the converted file is cached beside it (``*.mogazoo.pth``); later
   calls read the cache with no network.

Offline, the error names the URL to fetch by hand and the path to put the
file at.
"""
import hashlib
import os
import os.path as osp
import re
import urllib.error
import urllib.parse
import urllib.request
from functools import lru_cache
from http.client import HTTPException
from typing import Dict, Optional

import yaml
from mmengine.logging import print_log

#: Metafile value of ``Converted From.SHA256`` when the source publishes
#: no hash.
UNPUBLISHED = 'unpublished'
_HASH_IN_NAME = re.compile(r'-([a-f0-9]{8,64})\.')
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A checkpoint that could not be fetched or failed its check; the
    message says what to do (the URL, the path to put the file at)."""


def home() -> str:
    """mogazoo's cache folder: ``$MOGAZOO_HOME``, else
    ``~/.cache/mogazoo``."""
    return osp.expanduser(
        os.environ.get('MOGAZOO_HOME') or osp.join('~', '.cache', 'mogazoo'))


def checkpoint_dir() -> str:
    """Where downloaded and converted checkpoints are cached."""
    return osp.join(home(), 'checkpoints')


def package_root() -> str:
    """The folder holding ``configs/``, ``tools/`` and ``model-index.yml``:
    the installed package's ``.mim`` folder (a wheel install, as mmpretrain
    packages them), else the source tree (an editable install)."""
    pkg = osp.dirname(osp.dirname(osp.abspath(__file__)))
    mim = osp.join(pkg, '.mim')
    if osp.isfile(osp.join(mim, 'model-index.yml')):
        return mim
    return osp.dirname(pkg)


def config_dir() -> str:
    """The ``configs`` folder (see :func:`package_root`)."""
    return osp.join(package_root(), 'configs')


@lru_cache(maxsize=None)
def model_index() -> Dict[str, dict]:
    """Every model of ``model-index.yml``: ``{name: {'config': abs path,
    'weights': URL or None, 'sha256': hex or None, 'collection': str,
    'task': str}}`` in file order."""
    root = package_root()
    with open(osp.join(root, 'model-index.yml'), encoding='utf-8') as f:
        imports = yaml.safe_load(f)['Import']
    index = {}
    for metafile in imports:
        with open(osp.join(root, metafile), encoding='utf-8') as f:
            meta = yaml.safe_load(f)
        for model in meta.get('Models') or []:
            source = model.get('Converted From') or {}
            sha = str(source.get('SHA256') or '').lower()
            results = model.get('Results') or [{}]
            index[model['Name']] = dict(
                config=osp.join(root, model['Config']),
                weights=model.get('Weights'),
                sha256=sha if re.fullmatch(r'[0-9a-f]{64}', sha) else None,
                collection=model.get('In Collection'),
                task=results[0].get('Task', 'Image Classification'))
    return index


def weights_sha256(url: str) -> Optional[str]:
    """The sha256 (or its prefix) a URL's file must have: from the
    metafiles, else from a ``-<hex>.`` part of the file name; None when
    neither gives one."""
    for entry in model_index().values():
        if entry['weights'] == url and entry['sha256']:
            return entry['sha256']
    match = _HASH_IN_NAME.search(osp.basename(urllib.parse.urlparse(url).path))
    return match.group(1) if match else None


def cache_path(url: str) -> str:
    """Where :func:`download` puts ``url``'s file."""
    parsed = urllib.parse.urlparse(url)
    name = osp.basename(parsed.path)
    if _is_web_page(url) or not name:
        name = re.sub(r'[^A-Za-z0-9._-]+', '_', parsed.netloc + parsed.path)
        name = name.strip('_') + '.pth'
    return osp.join(checkpoint_dir(), name)


def _is_web_page(url: str) -> bool:
    """A link to a page about the file rather than to the file (Google
    Drive's ``/file/d/<id>/view``)."""
    parsed = urllib.parse.urlparse(url)
    return parsed.netloc.endswith('drive.google.com') and \
        '/file/d/' in parsed.path


def _by_hand(url: str, path: str) -> str:
    return (f'Download {url} by hand (in a browser if it is a web page) and '
            f'save the file as {path}; mogazoo then checks, converts and '
            'caches it with no network.')


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(total: Optional[int], done: int, name: str):
    try:
        # lazy: an optional / heavy dependency, imported on use
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the stack
        return None
    return tqdm(
        total=total,
        initial=done,
        unit='B',
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        leave=False)


def download(url: str,
             sha256: Optional[str] = None,
             progress: bool = True,
             timeout: float = 30) -> str:
    """Download ``url`` into :func:`checkpoint_dir` once; return its path.

    A file already in the cache is returned with no network. An earlier,
    interrupted download (``<file>.part``) is resumed. The file appears
    under its final name only when it is complete and its hash checked.

    Args:
        url (str): An http(s) URL.
        sha256 (str, optional): Its sha256, or a prefix of it. None looks it
            up (:func:`weights_sha256`) and, failing that, accepts the
            hash the server publishes (Hugging Face's ``X-Linked-Etag``).
        progress (bool): Show a progress bar. Defaults to True.
        timeout (float): Socket timeout in seconds. Defaults to 30.

    Raises:
        DownloadError: No network, an HTTP error, a web page instead of a
            file, a truncated transfer (the ``.part`` stays for the next
            call to resume) or a hash mismatch (the file is deleted). The
            message names the URL and the path to put the file at.
    """
    path = cache_path(url)
    if osp.isfile(path):
        return path
    if _is_web_page(url):
        raise DownloadError(f'{url} is a web page, not a file mogazoo can '
                            f'download. {_by_hand(url, path)}')
    os.makedirs(osp.dirname(path), exist_ok=True)
    expected = (sha256 or weights_sha256(url) or '').lower() or None
    part = path + '.part'
    done = osp.getsize(part) if osp.isfile(part) else 0
    request = urllib.request.Request(
        url,
        headers={
            'User-Agent': 'mogazoo',
            **({
                'Range': f'bytes={done}-'
            } if done else {})
        })
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and done:  # the .part is already complete
            response = None
        else:
            raise DownloadError(f'Cannot download {url}: HTTP {exc.code} '
                                f'{exc.reason}. {_by_hand(url, path)}') \
                from exc
    except (urllib.error.URLError, OSError, HTTPException) as exc:
        raise DownloadError(f'Cannot download {url} ({exc}): no network? '
                            f'{_by_hand(url, path)}') from exc
    published = None
    if response is not None:
        with response:
            if done and response.status != 206:
                done = 0  # the server ignored Range: start again
            length = response.headers.get('Content-Length')
            total = int(length) + done if length else None
            etag = (response.headers.get('X-Linked-Etag') or '').strip('"')
            published = etag.lower() if re.fullmatch(r'[0-9a-fA-F]{64}',
                                                     etag) else None
            bar = _progress(total, done, osp.basename(path)) \
                if progress else None
            try:
                with open(part, 'ab' if done else 'wb') as f:
                    for chunk in iter(lambda: response.read(_CHUNK), b''):
                        f.write(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            except (OSError, HTTPException) as exc:
                raise DownloadError(
                    f'Download of {url} was interrupted ({exc}); '
                    f'{osp.getsize(part)} bytes are kept in {part}: call '
                    'again to resume') from exc
            finally:
                if bar is not None:
                    bar.close()
        got = osp.getsize(part)
        if total is not None and got != total:
            raise DownloadError(
                f'Download of {url} is incomplete: {got} of {total} bytes. '
                f'They are kept in {part}: call again to resume')
    _check_downloaded(url, part, path, expected or published)
    os.replace(part, path)
    return path


def _check_downloaded(url, part, path, expected):
    with open(part, 'rb') as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b'<!doctype', b'<html')):
        os.remove(part)
        raise DownloadError(f'{url} returned a web page, not a checkpoint. '
                            f'{_by_hand(url, path)}')
    digest = sha256_file(part)
    if expected and not digest.startswith(expected):
        os.remove(part)
        raise DownloadError(
            f'sha256 mismatch for {url}: expected {expected}, got {digest}. '
            'The file was deleted; the download is corrupt or the file was '
            'replaced upstream.')
    with open(path + '.sha256', 'w', encoding='utf-8') as f:
        f.write(digest + '\n')
    checked = 'checked' if expected else \
        'not published by the source: recorded for later checks'
    print_log(
        f'Downloaded {url} to {path} (sha256 {digest}, {checked})',
        logger='current')


def recorded_sha256(url: str, path: str) -> str:
    """The sha256 recorded for a cached file; a file put there by hand is
    checked against the published hash (if any) and recorded now."""
    record = path + '.sha256'
    if osp.isfile(record):
        with open(record, encoding='utf-8') as f:
            return f.read().strip()
    digest = sha256_file(path)
    expected = weights_sha256(url)
    if expected and not digest.startswith(expected):
        raise DownloadError(
            f'sha256 mismatch for {path} (the file for {url}): expected '
            f'{expected}, got {digest}. Delete it and download again.')
    with open(record, 'w', encoding='utf-8') as f:
        f.write(digest + '\n')
    return digest


def converted_path(path: str) -> str:
    """Where the converted copy of a cached official file is kept."""
    stem = path[:-len('.pth.tar')] if path.endswith('.pth.tar') else \
        osp.splitext(path)[0]
    return stem + '.mogazoo.pth'
