"""Official FasterViT (NVlabs/FasterViT) keys to mogazoo keys."""
import re
from collections import OrderedDict

import torch

from ..keys import rename_keys

# buffers the official model stores but derives from the weights or the
# window size (mogazoo computes them): position-bias caches, coordinate
# tables and relative position indices
_DERIVED = re.compile(
    r'\.(relative_bias|relative_coords_table|relative_position_index)$')
# the official TokenInitializer registers its conv twice
_ALIAS = re.compile(r'^(levels\.\d+\.global_tokenizer\.)to_global_feature\.'
                    r'pos\.(weight|bias)$')

_RULES = [
    (r'^patch_embed\.conv_down\.', 'backbone.patch_embeds.0.'),
    # the official down-sampling layer ends level i, mogazoo's starts i+1
    (r'^levels\.(\d+)\.downsample\.norm\.',
     lambda m: f'backbone.patch_embeds.{int(m[1]) + 1}.0.'),
    (r'^levels\.(\d+)\.downsample\.reduction\.0\.',
     lambda m: f'backbone.patch_embeds.{int(m[1]) + 1}.1.'),
    (r'^levels\.(\d+)\.blocks\.', r'backbone.stages.\1.blocks.'),
    (r'^levels\.(\d+)\.global_tokenizer\.pos_embed\.',
     r'backbone.stages.\1.global_tokenizer.pos_embed.'),
    # detection backbones (downstream/): one norm per output level
    (r'^norm(\d+)\.', r'backbone.norms.\1.'),
    (r'^head\.', 'head.fc.'),
]


def convert_fastervit(state_dict):
    """Map an official FasterViT state dict (``faster_vit.py`` or
    ``faster_vit_any_res.py``, classifier or detection backbone) to
    mogazoo's ``ImageClassifier`` keys (``backbone.*`` and ``head.fc.*``).

    The final ``norm.*`` becomes the output norm of the last stage. Derived
    buffers (``relative_bias``, ``relative_coords_table``,
    ``relative_position_index``) and the second name of the carrier-token
    initializer's conv (``to_global_feature.pos``) are dropped.

    Raises:
        ValueError: if a key is not part of an official FasterViT, the two
            names of the initializer conv hold different values, or the
            dict holds no FasterViT keys at all.
    """
    levels = [
        int(m[1])
        for m in (re.match(r'^levels\.(\d+)\.', k) for k in state_dict) if m
    ]
    if not levels:
        raise ValueError(
            'No FasterViT level weights (levels.*) found in '
            f'{list(state_dict)[:5]}; is this an official FasterViT '
            'checkpoint?')
    last = max(levels)
    # the initializer conv under its one mogazoo name, in the input's order
    state = OrderedDict()
    for key, value in state_dict.items():
        alias = _ALIAS.match(key)
        if alias:
            twin = f'{alias[1]}pos_embed.{alias[2]}'
            if twin in state_dict and not torch.equal(state_dict[twin], value):
                raise ValueError(f'{key} differs from {twin}; they are one '
                                 'conv in the official model')
            if twin not in state_dict:
                state[twin] = value
            continue
        state[key] = value
    # the final norm is the output norm of the last stage
    rules = [(r'^norm\.', f'backbone.norms.{last}.')] + _RULES
    return rename_keys(state, rules, 'FasterViT', drop=_DERIVED)
