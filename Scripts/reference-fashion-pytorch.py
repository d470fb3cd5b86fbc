#!/usr/bin/python3
"""PyTorch reference for the accuracy check: fashion-cnn on Fashion-MNIST, the same
architecture, initialisation (Glorot-uniform kernels, zero biases), optimizer (Adam,
lr 1e-3, Keras' epsilon 1e-7), batch size and epochs as `lumen train`, on the same
image folders. Prints the test accuracy.

Usage: /usr/bin/python3 Scripts/reference-fashion-pytorch.py DATA_DIR [EPOCHS] [SEED]
(DATA_DIR holds train/ and test/ from Scripts/convert-fashion-mnist; needs python3-torch
and python3-pil from Debian.)
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


def load(folder):
    classes = sorted(os.listdir(folder))
    images, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(folder, name))):
            images.append(np.asarray(Image.open(os.path.join(folder, name, file)).convert("L"), dtype=np.float32) / 255.0)
            labels.append(label)
    return torch.from_numpy(np.stack(images)[:, None]), torch.tensor(labels)


class FashionCNN(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def main():
    data = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    x_train, y_train = load(os.path.join(data, "train"))
    x_test, y_test = load(os.path.join(data, "test"))
    model = FashionCNN(10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    start = time.time()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), 64):
            batch = order[i:i + 64]
            optimizer.zero_grad()
            F.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
    seconds = time.time() - start
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x_test[i:i + 1000]).argmax(1) for i in range(0, len(x_test), 1000)])
    accuracy = (predicted == y_test).float().mean().item()
    print("pytorch test_accuracy %.4f train_seconds %.1f images_per_second %.1f" % (
        accuracy, seconds, epochs * len(x_train) / seconds))


if __name__ == "__main__":
    main()
