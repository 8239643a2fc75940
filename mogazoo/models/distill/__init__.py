"""Knowledge distillation (DeiT-style soft and hard)."""
