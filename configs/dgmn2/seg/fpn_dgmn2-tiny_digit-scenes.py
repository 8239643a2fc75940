# Semantic FPN with DGMN2-T from scratch on the bundled digit scenes (64x64):
# the MogaNet-XT recipe with another backbone.
_base_ = ['../../moganet/seg/fpn_moganet-xtiny_digit-scenes.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.DGMN2',
        arch='tiny',
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[64, 128, 320, 512]),
)
