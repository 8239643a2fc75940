"""Official DGMN2 (fudan-zvg/DGMN2) keys to mogazoo keys."""
from ..keys import rename_keys

# stem: conv{1,2,3} / norm{1,2,3} of patch_embed1 -> Sequential indices
_STEM = {
    'conv1': 0,
    'norm1': 1,
    'conv2': 3,
    'norm2': 4,
    'conv3': 6,
    'norm3': 7
}
_RULES = [
    (r'^patch_embed1\.(conv[123]|norm[123])\.',
     lambda m: f'backbone.patch_embeds.0.{_STEM[m[1]]}.'),
    (r'^patch_embed([234])\.conv\.',
     lambda m: f'backbone.patch_embeds.{int(m[1]) - 1}.0.'),
    (r'^patch_embed([234])\.norm\.',
     lambda m: f'backbone.patch_embeds.{int(m[1]) - 1}.1.'),
    (r'^block([1234])\.(\d+)\.((norm[12]|attn\.(qkv|proj|conv_offset)|'
     r'mlp\.fc[12])\.(weight|bias)|attn\.pos_emb\.rel_(height|width))$',
     lambda m: f'backbone.stages.{int(m[1]) - 1}.{m[2]}.{m[3]}'),
    (r'^head\.(weight|bias)$', lambda m: f'head.fc.{m[1]}'),
]


def convert_dgmn2(state_dict):
    """Map an official DGMN2 state dict (``dgmn2_tiny`` ... ``dgmn2_large``
    of ``classification/dgmn2.py``) to mogazoo's ``ImageClassifier`` keys
    (``backbone.*`` and ``head.fc.*``). Backbone-only dicts (the official
    detection/segmentation backbones) convert too.

    Raises:
        ValueError: if a key is not part of an official DGMN2, or the dict
            holds no DGMN2 block weights at all.
    """
    out = rename_keys(state_dict, _RULES, 'DGMN2')
    if not any(k.startswith('backbone.stages.') for k in out):
        raise ValueError('No DGMN2 block weights (block1.*) found')
    return out
