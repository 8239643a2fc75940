# Cascade Mask R-CNN 3x, GIoU 4conv1fc heads, multi-scale with crops, FasterViT-4 backbone.
_base_ = [
    './cascade-mask-rcnn_fastervit-0_fpn_4conv1fc-giou_ms-crop-3x_coco.py'
]
model = dict(
    backbone=dict(
        arch='4',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='work_dirs/pretrained/fastervit-4_in1k.pth')),
    neck=dict(in_channels=[196, 392, 784, 1568]),
)
