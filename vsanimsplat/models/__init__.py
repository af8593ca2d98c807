"""Interpolation models composed from the networks, and the weight registry."""
