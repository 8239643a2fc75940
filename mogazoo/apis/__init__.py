"""High-level inference API: get_model and top-k prediction."""
