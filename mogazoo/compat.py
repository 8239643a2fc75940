"""The three places where mogazoo changes what other libraries do, kept here
and nowhere else. ``import mogazoo`` applies both (:mod:`mogazoo.register`);
each has a test that fails when the upstream it was written against changes
(tests/test_compat.py; versions pinned in requirements/runtime.txt and
requirements/mminstall.txt).

1. :func:`allow_mmengine_checkpoints`: torch >= 2.6 loads with
   ``weights_only=True`` while mmengine 0.10.7 pickles ``HistoryBuffer``\\ s
   and numpy arrays into checkpoints (mmengine #1655), so ``torch.load`` of
   a checkpoint of mmengine's own runner fails. Exactly those classes are
   added to torch's safe globals (torch's public
   ``torch.serialization.add_safe_globals``); any other pickled object is
   still refused.
2. :func:`use_mogazoo_checkpoint_loaders`: mmengine's local-file and
   http(s) :class:`~mmengine.runner.CheckpointLoader` schemes are replaced
   (``register_scheme(..., force=True)``) by
   :func:`mogazoo.checkpoint.load_checkpoint`, so that ``load_from``,
   ``--resume``, ``mmpretrain.get_model(..., pretrained=)``, mmdet's and
   mmseg's loaders read files safely and convert an official MogaNet /
   FasterViT / DGMN2 checkpoint in memory, where mmengine would load it
   non-strictly and go on with a random network. There is no public hook
   for "every checkpoint mmengine reads"; a new scheme (``mogazoo://``)
   would not reach the paths users already type.
3. :func:`use_mogazoo_get_model`: ``mmpretrain.get_model`` (and the name
   mmpretrain's inferencers call) becomes
   :func:`mogazoo.apis.inference.mmpretrain_get_model` for mogazoo models:
   ``pretrained`` loads **strictly** (mmpretrain would log the missing keys
   of a checkpoint that does not fit and return a partly random network),
   ``pretrained=True`` takes the official weights through the download
   cache, and a model built from a config path gets the metainfo that
   ``mmpretrain.inference_model`` needs. Any other model goes to
   mmpretrain's own function unchanged. mmpretrain has no hook for "after a
   model is loaded"; ``ModelHub.register_model_index`` (public, used too)
   only makes the names known.
"""
import mmpretrain
import mmpretrain.apis
import mmpretrain.apis.base
import mmpretrain.apis.model
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from mogazoo.apis.inference import mmpretrain_get_model
from mogazoo.checkpoint import load as _load
from mogazoo.checkpoint.io import mmengine_checkpoint_globals

#: The versions the patches were written against (pinned in
#: requirements/mminstall.txt and requirements/runtime.txt).
MMENGINE_VERSION = '0.10.7'
MMPRETRAIN_VERSION = '1.2.0'
#: The modules that bind mmpretrain's ``get_model`` (its inferencers call
#: ``mmpretrain.apis.base.get_model``).
GET_MODEL_MODULES = (mmpretrain, mmpretrain.apis, mmpretrain.apis.model,
                     mmpretrain.apis.base)
#: mmpretrain's own ``get_model``, which other models go to.
MMPRETRAIN_GET_MODEL = mmpretrain.apis.model.get_model


def allow_mmengine_checkpoints() -> None:
    """Add mmengine's checkpoint contents to torch's safe globals
    (idempotent: torch keeps a set)."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def _load_local(filename, map_location):
    return _load.load_checkpoint(filename, map_location=map_location)


def _load_http(filename, map_location):
    return _load.load_url(filename, map_location=map_location)


def use_mogazoo_checkpoint_loaders() -> None:
    """Make mmengine's ``''`` (local file) and ``http://`` / ``https://``
    checkpoint schemes read through :mod:`mogazoo.checkpoint`
    (idempotent)."""
    CheckpointLoader.register_scheme('', _load_local, force=True)
    CheckpointLoader.register_scheme(_load.URL_SCHEMES, _load_http, force=True)


def _get_model(model,
               pretrained=False,
               device=None,
               device_map=None,
               offload_folder=None,
               url_mapping=None,
               **kwargs):
    return mmpretrain_get_model(MMPRETRAIN_GET_MODEL, model, pretrained,
                                device, device_map, offload_folder,
                                url_mapping, **kwargs)


_get_model.__doc__ = mmpretrain_get_model.__doc__


def use_mogazoo_get_model() -> None:
    """Bind :func:`_get_model` as ``get_model`` in
    :data:`GET_MODEL_MODULES` (idempotent)."""
    for module in GET_MODEL_MODULES:
        module.get_model = _get_model
