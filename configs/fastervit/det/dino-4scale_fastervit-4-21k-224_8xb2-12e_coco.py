# DINO 4-scale, 12 epochs on COCO, FasterViT-4-21k-224 backbone (published box AP 55.16).
_base_ = ['./dino-4scale_fastervit-0_8xb2-12e_coco.py']
model = dict(
    backbone=dict(
        arch='4-21k-224',
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/fastervit-4-21k-224_in1k.pth')),
    neck=dict(in_channels=[392, 784, 1568]),
)
