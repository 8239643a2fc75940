# DINO 4-scale, 12 epochs on COCO, FasterViT-1 backbone.
_base_ = ['./dino-4scale_fastervit-0_8xb2-12e_coco.py']
model = dict(
    backbone=dict(
        arch='1',
        init_cfg=dict(checkpoint='work_dirs/pretrained/fastervit-1_in1k.pth')),
    neck=dict(in_channels=[160, 320, 640]),
)
