"""The musav short-chunk ResNet's training step in PyTorch (same layers, sizes, batch, optimiser as
src/model/resnet.rs and benches/train_step.rs); prints the median seconds per step."""
import statistics
import sys
import time

import torch
from torch import nn

BATCH, MELS, FRAMES, CLASSES = 16, 96, 141, 11
CHANNELS = [64, 64, 128, 128, 128, 128, 256]
EMBEDDING = 256


class Block(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.conv1 = nn.Conv2d(i, o, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(o)
        self.conv2 = nn.Conv2d(o, o, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(o)
        self.proj = nn.Conv2d(i, o, 1, stride=2, bias=False)
        self.bn_proj = nn.BatchNorm2d(o)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.bn_proj(self.proj(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.spec_bn = nn.BatchNorm2d(1)
        blocks, i = [], 1
        for o in CHANNELS:
            blocks.append(Block(i, o))
            i = o
        self.blocks = nn.Sequential(*blocks)
        self.dense = nn.Linear(i, EMBEDDING)
        self.dense_bn = nn.BatchNorm1d(EMBEDDING)
        self.drop = nn.Dropout(0.5)
        self.classifier = nn.Linear(EMBEDDING, CLASSES)

    def forward(self, mel):
        x = self.blocks(self.spec_bn(mel.unsqueeze(1)))
        x = x.flatten(2).amax(2)
        x = torch.relu(self.dense_bn(self.dense(x)))
        return self.classifier(self.drop(x))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = ResNet()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(BATCH, MELS, FRAMES)
    y = torch.arange(BATCH) % CLASSES
    times = []
    for i in range(steps + 2):
        t = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if i >= 2:  # warm-up
            times.append(time.perf_counter() - t)
    print(f"{statistics.median(times):.6f}")


if __name__ == "__main__":
    main()
