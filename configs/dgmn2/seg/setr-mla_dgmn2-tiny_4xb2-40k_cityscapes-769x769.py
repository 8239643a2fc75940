# SETR-MLA, 40k iterations on Cityscapes 769x769, DGMN2-tiny backbone
# (published mIoU / ms+flip: 78.25 / 79.32).
# Official: fudan-zvg/DGMN2 segmentation/configs/setr_mla_dgmn2_*_4x2_769x769_40k_cityscapes.py:
# the four stage outputs (strides 4, 8, 8, 8) each pass two 3x3 conv-BN-ReLU layers of 128
# channels, are resized to 4x the stride-8 size and concatenated (512 channels) before the
# classifier. mmseg's SETRMLAHead needs inputs of one size, so this uses mogazoo's
# PyramidSETRMLAHead, which resizes as the official head does.
_base_ = ['./setr-naive_dgmn2-tiny_4xb2-40k_cityscapes-769x769.py']
custom_imports = dict(
    imports=['mogazoo', 'mogazoo.models.heads'], allow_failed_imports=False)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        _delete_=True,
        type='PyramidSETRMLAHead',
        in_channels=[64, 128, 320, 512],
        in_index=(0, 1, 2, 3),
        channels=512,
        mla_channels=128,
        up_scale=4,
        ref_index=1,
        dropout_ratio=0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
)
