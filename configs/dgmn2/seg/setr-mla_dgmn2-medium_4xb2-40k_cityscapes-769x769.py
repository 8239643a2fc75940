# SETR-MLA, 40k iterations on Cityscapes 769x769, DGMN2-medium backbone
# (published mIoU / ms+flip: 81.09 / 82.00).
_base_ = ['./setr-mla_dgmn2-tiny_4xb2-40k_cityscapes-769x769.py']
model = dict(
    backbone=dict(
        arch='medium',
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/dgmn2-medium_in1k.pth')))
