# Mask R-CNN with a small any-resolution FasterViT (HAT in stage 3) from scratch
# on the bundled digit scenes (64x64):
# the MogaNet-XT recipe with another backbone.
_base_ = ['../../moganet/det/mask-rcnn_moganet-xtiny_fpn_digit-scenes.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.FasterViT',
        # FasterViT-0's layout at a quarter of its depth and half its width;
        # 2x2 windows give the 4x4 stage-3 map of a 64x64 image 4 windows
        # and their carrier tokens
        arch=dict(
            embed_dims=[32, 64, 128, 256],
            depths=[1, 1, 2, 1],
            num_heads=[2, 4, 8, 16],
            window_sizes=[7, 7, 2, 2],
            hat=[False, False, True, False],
            stem_channels=32),
        any_res=True,
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[32, 64, 128, 256]),
)
