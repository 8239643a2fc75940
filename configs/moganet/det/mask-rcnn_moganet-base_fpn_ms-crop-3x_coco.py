# Mask R-CNN 3x, multi-scale 480-800 with crops, MogaNet-base backbone.
# (the official uses drop path 0.3 for MogaNet-B in the 3x schedule)
_base_ = ['./mask-rcnn_moganet-tiny_fpn_ms-crop-3x_coco.py']
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-base_in1k.pth')),
    neck=dict(in_channels=[64, 160, 320, 512]),
)
