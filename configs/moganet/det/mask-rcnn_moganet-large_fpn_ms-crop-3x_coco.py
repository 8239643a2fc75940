# Mask R-CNN 3x, multi-scale 480-800 with crops, MogaNet-large backbone.
_base_ = ['./mask-rcnn_moganet-tiny_fpn_ms-crop-3x_coco.py']
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.3,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-large_in1k.pth')),
    neck=dict(in_channels=[64, 160, 320, 640]),
)
