"""Building blocks shared by the mogazoo backbone families."""
import torch
import torch.nn as nn


class ElementScale(nn.Module):
    """Learnable per-channel scale of an NCHW tensor.

    Used by MogaNet both as layer scale and as the ``sigma`` of its feature
    decomposition.

    Args:
        embed_dims (int): Number of channels.
        init_value (float): Initial value of every scale. Defaults to 0.
        requires_grad (bool): Whether the scale is trained. Defaults to True.
    """

    def __init__(self, embed_dims, init_value=0., requires_grad=True):
        super().__init__()
        self.scale = nn.Parameter(
            init_value * torch.ones((1, embed_dims, 1, 1)),
            requires_grad=requires_grad)

    def forward(self, x):
        return x * self.scale
