"""A SageMaker-style PyTorch training script: everything comes from SM_* variables and
command-line hyperparameters; nothing imports mlcore."""

import argparse
import json
import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


class Standardize(nn.Module):
    """Feature scaling kept inside the model (its mean/std are saved with the weights)."""

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))

    def forward(self, x):
        return (x - self.mean) / self.std


def build(features: int) -> nn.Module:
    return nn.Sequential(Standardize(features), nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, 1))


def load_csv(folder: str):
    files = sorted(f for f in os.listdir(folder) if f.endswith(".csv"))
    data = np.concatenate([np.loadtxt(os.path.join(folder, f), delimiter=",", ndmin=2) for f in files])
    return torch.tensor(data[:, 1:], dtype=torch.float32), torch.tensor(data[:, :1], dtype=torch.float32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    parser.add_argument("--hosts", type=list, default=json.loads(os.environ["SM_HOSTS"]))
    parser.add_argument("--current-host", type=str, default=os.environ["SM_CURRENT_HOST"])
    parser.add_argument("--num-gpus", type=int, default=int(os.environ["SM_NUM_GPUS"]))
    args = parser.parse_args()
    assert json.loads(os.environ["SM_HPS"])["epochs"] == args.epochs
    assert os.environ["SM_HP_EPOCHS"] == str(args.epochs)

    torch.manual_seed(0)
    X, y = load_csv(args.train)
    world = len(args.hosts)
    rank = args.hosts.index(args.current_host)
    X, y = X[rank::world], y[rank::world]
    model = build(X.shape[1])
    model[0].mean.copy_(X.mean(0))
    model[0].std.copy_(X.std(0).clamp_min(1e-6))
    if world > 1 and dist.is_initialized():  # DDP broadcasts rank 0's weights and buffers
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X), y)
        loss.backward()
        opt.step()
        print(f"epoch={epoch} train_loss={loss.item():.6f}", flush=True)
    if args.current_host == args.hosts[0]:
        net = model.module if hasattr(model, "module") else model
        torch.save(net.state_dict(), os.path.join(args.model_dir, "model.pth"))
        with open(os.path.join(args.model_dir, "features.json"), "w") as f:
            json.dump({"features": X.shape[1]}, f)
    out = os.environ["SM_OUTPUT_DATA_DIR"]
    with open(os.path.join(out, f"{args.current_host}.txt"), "w") as f:
        f.write(f"{loss.item()}\n")


def model_fn(model_dir):
    with open(os.path.join(model_dir, "features.json")) as f:
        model = build(json.load(f)["features"])
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pth")))
    return model.eval()


def input_fn(request_body, request_content_type):
    """Decode a request: CSV rows, or JSON {"features": [[...], ...]}."""
    if isinstance(request_body, bytes):
        request_body = request_body.decode()
    if request_content_type == "text/csv":
        return np.loadtxt(request_body.splitlines(), delimiter=",", dtype=np.float32, ndmin=2)
    if request_content_type == "application/json":
        return np.asarray(json.loads(request_body)["features"], dtype=np.float32)
    raise ValueError(f"unsupported content type {request_content_type}; send text/csv or application/json")


def predict_fn(data, model):
    with torch.no_grad():
        return model(torch.as_tensor(data, dtype=torch.float32)).numpy()


def output_fn(prediction, accept):
    """Encode the response: JSON {"scores": [...]}."""
    return json.dumps({"scores": np.asarray(prediction).ravel().tolist()})


if __name__ == "__main__":
    main()
