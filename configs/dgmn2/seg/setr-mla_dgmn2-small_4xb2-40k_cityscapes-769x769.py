# SETR-MLA, 40k iterations on Cityscapes 769x769, DGMN2-small backbone
# (published mIoU / ms+flip: 80.79 / 81.62).
_base_ = ['./setr-mla_dgmn2-tiny_4xb2-40k_cityscapes-769x769.py']
model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='work_dirs/pretrained/dgmn2-small_in1k.pth')))
