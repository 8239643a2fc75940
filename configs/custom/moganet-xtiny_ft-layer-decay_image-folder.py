# Fine-tune all of MogaNet-XT on your own folder of images with layer-wise
# learning-rate decay: the head learns at the full lr, and each layer below
# it at layer_decay_rate times the lr of the layer above (mmpretrain's
# LearningRateDecayOptimWrapperConstructor with MogaNet.get_layer_depth: the
# stem is layer 0, every block one layer, 18 blocks + stem + head = 20
# layers), so the stem learns at 0.9 ** 19 = 0.135 x lr. The pretrained
# low-level features change little, the task-specific top a lot. Deeper
# archs take a rate nearer 1 (MogaNet-B, 37 layers: about 0.95) to keep the
# stem near 0.1-0.2 x lr. The whole converted classifier is loaded with
# load_from (a head of another num_classes is left out, see
# moganet-xtiny_ft-freeze2_image-folder.py); AdamW lr 5e-4 at batch 64,
# 20 epochs, drop path back at its pretraining value.
_base_ = './moganet-xtiny_ft-freeze2_image-folder.py'
model = dict(backbone=dict(frozen_stages=-1, drop_path_rate=0.05))
optim_wrapper = dict(
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9),
)
