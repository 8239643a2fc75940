"""Argument helpers shared by the mogazoo backbones."""
from typing import Sequence, Union


def parse_out_indices(out_indices: Union[int, Sequence[int]],
                      num_stages: int) -> tuple:
    """Turn ``out_indices`` into a sorted tuple of non-negative stage indices.

    Negative indices count from the last stage, as in mmpretrain.

    Raises:
        TypeError: if ``out_indices`` is neither an int nor a sequence of ints.
        ValueError: if an index is outside ``[-num_stages, num_stages)``.
    """
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    if not isinstance(out_indices, Sequence) or not all(
            isinstance(i, int) for i in out_indices):
        raise TypeError('out_indices must be an int or a sequence of ints, '
                        f'got {out_indices!r}')
    parsed = []
    for index in out_indices:
        if not -num_stages <= index < num_stages:
            raise ValueError(f'out_indices {index} is out of range for a '
                             f'backbone with {num_stages} stages')
        parsed.append(index % num_stages)
    return tuple(sorted(set(parsed)))
