# Mask R-CNN 1x on COCO, DGMN2-medium backbone (published box / mask AP: 44.4 / 40.2).
_base_ = ['./mask-rcnn_dgmn2-tiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='medium',
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/dgmn2-medium_in1k.pth')))
