# SETR-PUP, 40k iterations on Cityscapes 769x769, DGMN2-medium backbone
# (published mIoU / ms+flip: 80.97 / 81.80).
_base_ = ['./setr-pup_dgmn2-tiny_4xb2-40k_cityscapes-769x769.py']
model = dict(
    backbone=dict(
        arch='medium',
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/dgmn2-medium_in1k.pth')))
