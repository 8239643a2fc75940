# DINO 4-scale, 12 epochs on COCO, FasterViT-3 backbone.
_base_ = ['./dino-4scale_fastervit-0_8xb2-12e_coco.py']
model = dict(
    backbone=dict(
        arch='3',
        init_cfg=dict(checkpoint='work_dirs/pretrained/fastervit-3_in1k.pth')),
    neck=dict(in_channels=[256, 512, 1024]),
)
