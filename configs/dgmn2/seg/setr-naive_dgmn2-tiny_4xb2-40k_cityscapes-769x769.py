# SETR-Naive, 40k iterations on Cityscapes 769x769, DGMN2-tiny backbone
# (published mIoU / ms+flip: 77.23 / 78.23).
# Official: fudan-zvg/DGMN2 segmentation/configs/setr_naive_dgmn2_*_4x2_769x769_40k_cityscapes.py:
# the backbone keeps stages 3 and 4 at stride 8 (patch embeddings of stride 1), the head
# classifies the last stage's map with a 1x1 conv and the logits are upsampled. On mmseg 1.x
# this is SETRUPHead without up-convs; it normalizes its input with a LayerNorm first, as
# all of mmseg's SETR heads do (the official head has none). Data, optimizer and schedule
# as the Semantic FPN config.
_base_ = ['./fpn_dgmn2-tiny_4xb2-40k_cityscapes-769x769.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(strides=(4, 2, 1, 1), out_indices=(3, )),
    neck=None,
    decode_head=dict(
        _delete_=True,
        type='SETRUPHead',
        in_channels=512,
        channels=512,
        in_index=0,
        num_convs=0,
        dropout_ratio=0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
)
