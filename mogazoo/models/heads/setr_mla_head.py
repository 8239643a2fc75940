"""SETR multi-level aggregation head for pyramid backbones."""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS


@MODELS.register_module()
class PyramidSETRMLAHead(BaseDecodeHead):
    """SETR-MLA head over feature maps of different strides.

    mmseg's ``SETRMLAHead`` upsamples every input by the same factor and so
    needs inputs of one size (a plain ViT's). The official DGMN2 SETR-MLA
    head (``VIT_MLAHead`` of fudan-zvg/DGMN2) instead takes the four stage
    outputs of a pyramid backbone (strides 4, 8, 8, 8 there) and, after two
    3x3 conv-norm-act layers per input, resizes every branch to
    ``up_scale`` times the size of input ``ref_index`` before concatenating.
    This head does that; the classifier (``conv_seg``) follows, and the
    segmentor resizes the logits to the label size.

    Args:
        mla_channels (int): Channels of each branch. ``channels`` must be
            ``len(in_channels) * mla_channels``. Defaults to 128.
        up_scale (int): Output size as a multiple of input ``ref_index``'s
            size. Defaults to 4.
        ref_index (int): Input (after ``in_index`` selection) whose size,
            times ``up_scale``, all branches are resized to. Defaults to 1.
        **kwargs: Arguments of ``BaseDecodeHead`` (``in_channels`` a
            sequence, ``in_index``, ``channels``, ``num_classes``,
            ``norm_cfg``, ``align_corners``...).
    """

    def __init__(self, mla_channels=128, up_scale=4, ref_index=1, **kwargs):
        super().__init__(input_transform='multiple_select', **kwargs)
        if self.channels != len(self.in_channels) * mla_channels:
            raise ValueError(
                f'channels ({self.channels}) must be len(in_channels) * '
                f'mla_channels = {len(self.in_channels) * mla_channels}')
        if not 0 <= ref_index < len(self.in_channels):
            raise ValueError(f'ref_index {ref_index} out of range for '
                             f'{len(self.in_channels)} inputs')
        self.up_scale = up_scale
        self.ref_index = ref_index
        conv = dict(
            kernel_size=3,
            padding=1,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        self.branches = nn.ModuleList(
            nn.Sequential(
                ConvModule(c, mla_channels, **conv),
                ConvModule(mla_channels, mla_channels, **conv))
            for c in self.in_channels)

    def forward(self, inputs):
        inputs = self._transform_inputs(inputs)
        size = [s * self.up_scale for s in inputs[self.ref_index].shape[2:]]
        outs = [
            resize(
                branch(x),
                size=size,
                mode='bilinear',
                align_corners=self.align_corners)
            for branch, x in zip(self.branches, inputs)
        ]
        return self.cls_seg(torch.cat(outs, dim=1))
