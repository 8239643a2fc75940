# Mask R-CNN 1x, MogaNet-small backbone.
_base_ = ['./mask-rcnn_moganet-xtiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.1,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-small_in1k.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]),
)
