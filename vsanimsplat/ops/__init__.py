"""Differentiable image operators (torch): softmax splatting, backward warping, correlation."""
