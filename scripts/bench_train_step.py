"""The musav short-chunk ResNet's training step in PyTorch (same layers, sizes, batch, optimiser as
src/model/resnet.rs and benches/train_step.rs); prints the median seconds per step."""
import statistics
import sys
import time

import torch
from torch import nn

from torch_resnet import ResNet

BATCH, MELS, FRAMES, CLASSES = 16, 96, 141, 11
CHANNELS = [64, 64, 128, 128, 128, 128, 256]
EMBEDDING = 256


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = ResNet(CLASSES, CHANNELS, EMBEDDING)
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
