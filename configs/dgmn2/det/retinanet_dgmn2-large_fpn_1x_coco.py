# RetinaNet 1x on COCO, DGMN2-large backbone (published box AP: 44.7).
_base_ = ['./retinanet_dgmn2-tiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='work_dirs/pretrained/dgmn2-large_in1k.pth')))
