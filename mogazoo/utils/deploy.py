"""Deploy (inference) form of a model."""
import torch.nn as nn


def switch_to_deploy(model: nn.Module) -> int:
    """Call ``switch_to_deploy()`` on every sub-module of ``model`` that has
    it (e.g. the FasterViT backbone, which then reuses its position-MLP
    outputs) and return how many did.

    Raises:
        ValueError: if no sub-module has ``switch_to_deploy``, naming the
            model's backbone (or the model).
    """
    owners = [
        m for m in model.modules()
        if callable(getattr(m, 'switch_to_deploy', None))
    ]
    # a module whose parent also switches would be switched twice: keep
    # the outermost ones
    top = [
        m for m in owners if not any(
            m is not o and any(m is s for s in o.modules()) for o in owners)
    ]
    if not top:
        name = type(getattr(model, 'backbone', model)).__name__
        raise ValueError(f'{name} has no deploy form (no switch_to_deploy)')
    for m in top:
        m.switch_to_deploy()
    return len(top)
