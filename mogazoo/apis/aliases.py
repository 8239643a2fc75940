"""The official implementations' model names, as aliases of mogazoo's.

The MogaNet repository registers ``moganet_xtiny`` ... ``moganet_xlarge``
with timm, the FasterViT package offers ``create_model('faster_vit_0_224')``
and DGMN2's code ``dgmn2_tiny`` ... ``dgmn2_large``. After ``import
mogazoo`` these names work in :func:`mogazoo.get_model` and, where timm is
installed (``pip install mogazoo[timm]``), in ``timm.create_model``, which
then builds mogazoo's model: an mmpretrain ``ImageClassifier`` whose
``model(x)`` returns the logits, as a timm model's does (inputs normalised
by the caller, as for timm). ``pretrained=`` takes what
:func:`mogazoo.get_model` takes: True (the official weights through the
download cache) or a file or URL, official or converted. The timm
entrypoints are registered by :mod:`mogazoo.register`.
"""
from typing import Dict

#: official name -> mogazoo (model index) name
OFFICIAL_NAMES: Dict[str, str] = {
    **{
        f'moganet_{a}': f'moganet-{a}_8xb128_in1k'
        for a in ('xtiny', 'tiny', 'small', 'base', 'large')
    },
    'moganet_xlarge': 'moganet-xlarge_8xb64_in1k',
    **{
        f'faster_vit_{i}_224': f'fastervit-{i}_32xb128_in1k'
        for i in range(7)
    },
    **{
        f'faster_vit_4_21k_{s}': f'fastervit-4_in21k-pre-{s}px_in1k'
        for s in (224, 384, 512, 768)
    },
    **{
        f'dgmn2_{a}': f'dgmn2-{a}_8xb128_in1k'
        for a in ('tiny', 'small', 'medium', 'large')
    },
}


def mogazoo_name(name: str) -> str:
    """The mogazoo name of an official name; any other name unchanged."""
    return OFFICIAL_NAMES.get(name, name)
