"""Diffusion model components and the backends that run them (torch, ONNX Runtime, TensorRT)."""
