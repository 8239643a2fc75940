# MogaNet-T: the MogaNet-XT recipe with weight decay 0.04 and drop path 0.1.
_base_ = ['./moganet-xtiny_8xb128_in1k.py']
model = dict(
    backbone=dict(arch='tiny', drop_path_rate=0.1), head=dict(in_channels=256))
optim_wrapper = dict(optimizer=dict(weight_decay=0.04))
