# The digits demo student distilled from a trained teacher, DeiT-style
# through the single head (no distillation token): hard distillation, alpha
# 0.5. The teacher is a config and a checkpoint (by default the MogaNet-XT
# that `make demo` trains); choose others with
#   --cfg-options model.teacher=CONFIG model.teacher_checkpoint=CKPT
#   model.distill_type=soft model.tau=3.0
_base_ = '../moganet/moganet-xtiny_1xb64_digits.py'
model = dict(
    type='DistillImageClassifier',
    teacher='configs/moganet/moganet-xtiny_1xb64_digits.py',
    teacher_checkpoint='work_dirs/demo/epoch_12.pth',
    distill_type='hard',
    alpha=0.5,
    tau=1.0,
)
