"""musav's short-chunk ResNet (src/model/resnet.rs) in PyTorch, for the benchmarks that compare
against it: the same layers and sizes, so both sides do the same work."""
import torch
from torch import nn


class Block(nn.Module):
    """Two 3x3 convs (the first with stride 2) with batch norm, and a 1x1 stride-2 projection."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.bn_proj = nn.BatchNorm2d(cout)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.bn_proj(self.proj(x)))


class ResNet(nn.Module):
    def __init__(self, classes, channels, embedding):
        super().__init__()
        self.spec_bn = nn.BatchNorm2d(1)
        self.blocks = nn.Sequential(*[Block(i, o) for i, o in zip([1] + channels[:-1], channels)])
        self.dense = nn.Linear(channels[-1], embedding)
        self.dense_bn = nn.BatchNorm1d(embedding)
        self.drop = nn.Dropout(0.5)
        self.classifier = nn.Linear(embedding, classes)

    def embed(self, mel):  # [batch, bands, frames] -> [batch, embedding]
        x = self.blocks(self.spec_bn(mel.unsqueeze(1)))
        x = torch.amax(x, dim=(2, 3))  # global max pooling
        return torch.relu(self.dense_bn(self.dense(x)))

    def forward(self, mel):  # [batch, bands, frames] -> [batch, classes] logits
        return self.classifier(self.drop(self.embed(mel)))
