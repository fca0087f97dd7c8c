"""The built-in main job: Fashion-MNIST, derived shifts, the demo generator and `genrobust demo`."""
