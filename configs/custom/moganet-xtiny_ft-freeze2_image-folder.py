# Fine-tune MogaNet-XT with the stem and the first 2 stages frozen
# (frozen_stages=1); stages 3-4 and the head learn. The whole converted
# classifier is loaded with load_from: with another num_classes mmengine
# skips the head ("size mismatch for head.fc.weight" in the log) and the head
# keeps its fresh initialisation; with the same classes it is loaded too.
_base_ = './moganet-xtiny_ft-head_image-folder.py'
model = dict(backbone=dict(frozen_stages=1, init_cfg=None))
load_from = {{_base_.checkpoint}}
optim_wrapper = dict(optimizer=dict(lr=5e-4))
