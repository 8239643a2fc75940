"""Official MogaNet (Westlake-AI/MogaNet) keys to mogazoo keys."""
import re
from collections import OrderedDict

_RULES = [
    # stem: patch_embed1.projection.{0..4} -> patch_embeds.0.{0..4}
    (r'^patch_embed1\.projection\.', 'backbone.patch_embeds.0.'),
    # down-sampling: conv and norm of patch_embed{i}
    (r'^patch_embed(\d)\.projection\.',
     lambda m: f'backbone.patch_embeds.{int(m[1]) - 1}.0.'),
    (r'^patch_embed(\d)\.norm\.',
     lambda m: f'backbone.patch_embeds.{int(m[1]) - 1}.1.'),
    (r'^blocks(\d)\.', lambda m: f'backbone.stages.{int(m[1]) - 1}.'),
    (r'^norm(\d)\.', lambda m: f'backbone.norms.{int(m[1]) - 1}.'),
    (r'^head\.', 'head.fc.'),
]
_INNER = [
    (r'\.attn\.value\.DW_conv(\d)\.', r'.attn.value.dw_conv\1.'),
    (r'\.attn\.value\.PW_conv\.', '.attn.value.pw_conv.'),
    (r'\.layer_scale_(\d)$', r'.layer_scale_\1.scale'),
]


def convert_moganet(state_dict):
    """Map an official MogaNet state dict to mogazoo's ``ImageClassifier``
    keys (``backbone.*`` and ``head.fc.*``).

    Raises:
        ValueError: if a key is not part of an official MogaNet, or the dict
            holds no MogaNet keys at all.
    """
    out = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        for pattern, repl in _RULES:
            new, n = re.subn(pattern, repl, key)
            if n:
                break
        else:
            unknown.append(key)
            continue
        for pattern, repl in _INNER:
            new = re.sub(pattern, repl, new)
        out[new] = value
    if unknown:
        raise ValueError(
            f'{len(unknown)} keys are not MogaNet keys, e.g. {unknown[:5]}; '
            'is this an official MogaNet checkpoint?')
    if not any(k.startswith('backbone.stages.') for k in out):
        raise ValueError('No MogaNet block weights (blocks1.*) found')
    return out
