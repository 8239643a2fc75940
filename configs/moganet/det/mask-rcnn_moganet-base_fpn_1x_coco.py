# Mask R-CNN 1x, MogaNet-base backbone.
_base_ = ['./mask-rcnn_moganet-xtiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.2,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-base_in1k.pth')),
    neck=dict(in_channels=[64, 160, 320, 512]),
)
