# Cascade Mask R-CNN 3x, GIoU 4conv1fc heads, multi-scale with crops, FasterViT-1 backbone.
_base_ = [
    './cascade-mask-rcnn_fastervit-0_fpn_4conv1fc-giou_ms-crop-3x_coco.py'
]
model = dict(
    backbone=dict(
        arch='1',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='work_dirs/pretrained/fastervit-1_in1k.pth')),
    neck=dict(in_channels=[80, 160, 320, 640]),
)
