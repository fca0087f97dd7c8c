"""Classifiers sized for small images (28–32 px), registered next to torchvision's by name.

torchvision's ResNets have an ImageNet stem (7×7 stride-2 convolution, then max-pooling): a 32-pixel
image is 8×8 after it, and most of the compute goes to overhead. The CIFAR ResNets of He et al. (2016,
section 4.2) keep the resolution: a 3×3 stem, three stages of 16/32/64 channels at 32, 16 and 8 pixels,
global pooling, one linear layer. Depth is 6n + 2 for n basic blocks per stage.

    model = create_small_net("cifar_resnet8", num_classes=10)   # n = 1, 78k parameters

The classes live at module level so a model pickles (DataLoader workers, torch.save of the module) and
`isinstance(model, CifarResNet)` works; this module imports torch, so import it lazily from light code.
"""

from __future__ import annotations

import torch
from torch import nn

# name -> blocks per stage (depth 6n + 2)
SMALL_NETS: dict[str, int] = {"cifar_resnet8": 1, "cifar_resnet14": 2, "cifar_resnet20": 3}
WIDTHS = (16, 32, 64)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        # A 1×1 projection where the shape changes (the paper's option B).
        self.shortcut = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Sequential):
    """Stem, three stages of `blocks` basic blocks, pooling and a linear head. A Sequential, so its
    weights keep the names ("0.weight", "3.conv1.weight", ...) that saved checkpoints hold."""

    def __init__(self, blocks: int, num_classes: int):
        layers: list[nn.Module] = [
            nn.Conv2d(3, WIDTHS[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(WIDTHS[0]),
            nn.ReLU(inplace=True),
        ]
        cin = WIDTHS[0]
        for stage, width in enumerate(WIDTHS):
            for block in range(blocks):
                layers.append(BasicBlock(cin, width, 2 if stage > 0 and block == 0 else 1))
                cin = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
        super().__init__(*layers)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")


def create_small_net(name: str, num_classes: int) -> CifarResNet:
    return CifarResNet(SMALL_NETS[name], num_classes)
