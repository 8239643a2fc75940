# DINO 4-scale, 12 epochs on COCO, FasterViT-2 backbone.
_base_ = ['./dino-4scale_fastervit-0_8xb2-12e_coco.py']
model = dict(
    backbone=dict(
        arch='2',
        init_cfg=dict(checkpoint='work_dirs/pretrained/fastervit-2_in1k.pth')),
    neck=dict(in_channels=[192, 384, 768]),
)
