# Cascade Mask R-CNN 3x, GIoU 4conv1fc heads, multi-scale with crops, MogaNet-base backbone.
_base_ = [
    './cascade-mask-rcnn_moganet-small_fpn_4conv1fc-giou_ms-crop-3x_coco.py'
]
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.2,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-base_in1k.pth')),
    neck=dict(in_channels=[64, 160, 320, 512]),
)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
