"""Train the reference decoder-only LM (parallel.lm) with whatever the job's `distribution`
says: plain DDP, DeepSpeed ZeRO 0-3 (with optional CPU offload) or a DeepSpeed pipeline.

Checkpoints are resumable to the exact batch (the data order depends only on the step), so
a restarted job continues where its last checkpoint left off.
"""

import json
import os
import statistics
import time

import torch
import torch.distributed as dist

from parallel import context, lm


def innermost_optimizer(opt):
    while hasattr(opt, "optimizer") and not isinstance(opt, torch.optim.Optimizer):
        opt = opt.optimizer
    return opt


def optimizer_state_bytes(opt) -> int:
    opt = innermost_optimizer(opt)
    return sum(t.numel() * t.element_size() for s in opt.state.values()
               for t in s.values() if torch.is_tensor(t) and t.dim() > 0)


def local_parameters(module) -> int:
    """Parameters this rank holds (a ZeRO-3 rank holds only its partition)."""
    return sum(p.ds_tensor.numel() if hasattr(p, "ds_tensor") else p.numel()
               for p in module.parameters())


def batches(inputs, labels, step, dp_rank, dp_size, gas, micro):
    """The micro-batches of `step` for this data-parallel rank: a function of the step only."""
    n = inputs.shape[0]
    for m in range(gas):
        start = (((step * dp_size + dp_rank) * gas + m) * micro) % n
        idx = torch.arange(start, start + micro) % n
        yield inputs[idx], labels[idx]


def main():
    hp = context.hyperparameters()
    steps, lr, seed = int(hp.get("steps", 40)), float(hp.get("lr", 3e-3)), int(hp.get("seed", 0))
    cfg = lm.LMConfig.from_hyperparameters(hp)
    ds = context.deepspeed_config()
    micro = int(ds.get("train_micro_batch_size_per_gpu") or hp.get("micro_batch_size", 8))
    gas = int(ds.get("gradient_accumulation_steps", 1))
    inputs, labels = lm.token_data(int(hp.get("sequences", 512)), cfg, seed)
    torch.manual_seed(seed)
    pipeline = ds and context.pipeline_parallel_degree() > 1

    device = context.device()  # cuda:<local rank> on GPU instance types, else cpu
    if pipeline:
        module = context.pipeline_module(lm.layers(cfg), loss_fn=lm.loss_fn)
    else:
        module = lm.TinyLM(cfg).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    if ds:
        engine, optimizer, _, _ = context.initialize(module, optimizer=optimizer,
                                                     micro_batch_size=micro)
        dp_rank = engine.grid.data_parallel_id if pipeline else context.rank()
        dp_size = context.world_size() // context.pipeline_parallel_degree()
    else:  # plain DDP
        engine = (torch.nn.parallel.DistributedDataParallel(module, device_ids=[device] if device.type == "cuda"
                                                            else None)
                  if dist.is_initialized() else module)
        dp_rank, dp_size = context.rank(), context.world_size()
        if context.restored_step() is not None:
            state = torch.load(os.path.join(context.checkpoint_dir(), "state.pt"), map_location=device)
            module.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])

    start = context.restored_step() or 0
    step_times, checkpoint_times = [], []
    for step in range(start, steps):
        t0 = time.perf_counter()
        parts = ((x.to(device), y.to(device))
                 for x, y in batches(inputs, labels, step, dp_rank, dp_size, gas, micro))
        if pipeline:
            loss = engine.train_batch(data_iter=parts).item()
        elif ds:
            total = 0.0
            for x, y in parts:
                out = lm.loss_fn(engine(x), y)
                engine.backward(out)
                engine.step()
                total += out.item() / gas
            loss = total
        else:
            optimizer.zero_grad()
            total = 0.0
            for x, y in parts:
                out = lm.loss_fn(engine(x), y) / gas
                out.backward()
                total += out.item()
            optimizer.step()
            loss = total
        context.log_metrics({"train:loss": loss}, step + 1)
        if context.checkpoint_due(step + 1):
            t1 = time.perf_counter()
            if ds:
                context.save_checkpoint(step + 1, engine=engine)
            else:
                if context.rank() == 0:
                    torch.save({"model": module.state_dict(), "optimizer": optimizer.state_dict()},
                               os.path.join(context.checkpoint_dir(), "state.pt"))
                context.save_checkpoint(step + 1)
            checkpoint_times.append(time.perf_counter() - t1)
        step_times.append(time.perf_counter() - t0)

    stats = {"rank": context.rank(), "optimizer_state_bytes": optimizer_state_bytes(optimizer),
             "local_parameters": local_parameters(module), "final_loss": loss,
             "step_seconds_median": statistics.median(step_times[5:] or step_times or [0.0]),
             "train_seconds": sum(step_times), "checkpoint_seconds": checkpoint_times,
             "parameter_names": sorted(n for n, _ in module.named_parameters())}
    with open(os.path.join(context.output_data_dir(), f"rank-{context.rank()}.json"), "w") as f:
        json.dump(stats, f)
    context.save_model(engine if ds else module)
    if context.rank() == 0:
        with open(os.path.join(context.model_dir(), "lm-config.json"), "w") as f:
            json.dump(vars(cfg), f)


def model_fn(model_dir):
    with open(os.path.join(model_dir, "lm-config.json")) as f:
        cfg = lm.LMConfig(**json.load(f))
    return lm.load(model_dir, cfg).eval()


def predict_fn(data, model):
    """Token ids in, the most likely next token at each position out."""
    with torch.no_grad():
        return model(torch.as_tensor(data, dtype=torch.long)).argmax(-1).numpy()


if __name__ == "__main__":
    main()
