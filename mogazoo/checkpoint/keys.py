"""State-dict keys: the one ``module.`` strip and the one rename engine that
every converter's table drives."""
import re
from collections import OrderedDict
from typing import Callable, Mapping, Optional, Sequence, Tuple, Union

#: A rename rule: a regular expression and its replacement (a string with
#: ``\1`` groups, or a function of the match, as for :func:`re.sub`).
Rule = Tuple[str, Union[str, Callable]]


def strip_module(state_dict: Mapping) -> 'OrderedDict':
    """The state dict without DataParallel's ``module.`` prefixes (its
    ``_metadata``, which versioned modules read, kept)."""
    out = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                      for k, v in state_dict.items())
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        out._metadata = metadata
    return out


def rename_keys(state_dict: Mapping,
                rules: Sequence[Rule],
                family: str,
                inner: Sequence[Rule] = (),
                drop: Optional['re.Pattern'] = None,
                prefix: str = '') -> 'OrderedDict':
    """Rename every key by a table, in order.

    Each key takes the first of ``rules`` that matches it, then every one
    of ``inner`` in turn; keys ``drop`` finds are left out.

    Args:
        state_dict (Mapping): The official state dict.
        rules (Sequence[Rule]): The family's table; a key that no rule
            matches is an error.
        family (str): The family, for messages.
        inner (Sequence[Rule]): Renames applied to every renamed key (layer
            names inside a block). Defaults to ().
        drop (re.Pattern, optional): Keys to leave out (buffers mogazoo
            derives). Defaults to None.
        prefix (str): How the keys were named in the input (e.g.
            ``'backbone.'``), for messages. Defaults to ''.

    Returns:
        OrderedDict: The renamed tensors, in the input's order.

    Raises:
        ValueError: A key no rule matches; the message names the first few.
    """
    out = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        if drop is not None and drop.search(key):
            continue
        for pattern, repl in rules:
            new, n = re.subn(pattern, repl, key)
            if n:
                break
        else:
            unknown.append(prefix + key)
            continue
        for pattern, repl in inner:
            new = re.sub(pattern, repl, new)
        out[new] = value
    if unknown:
        raise ValueError(
            f'{len(unknown)} keys are not {family} keys, e.g. {unknown[:5]}; '
            f'is this an official {family} checkpoint?')
    return out
