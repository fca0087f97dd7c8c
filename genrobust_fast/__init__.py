"""genrobust-fast: robust classifiers from real + diffusion-generated data, fast and reproducible.

Importing the package is cheap: heavy or optional libraries (torch, diffusers, onnxruntime, DALI,
DeepSpeed, TensorRT) are imported by the submodules that need them, when they are used.
"""

__version__ = "0.1.0"
