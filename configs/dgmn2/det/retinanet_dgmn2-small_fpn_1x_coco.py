# RetinaNet 1x on COCO, DGMN2-small backbone (published box AP: 42.5).
_base_ = ['./retinanet_dgmn2-tiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='work_dirs/pretrained/dgmn2-small_in1k.pth')))
