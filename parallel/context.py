"""What a training script running under mlcore can ask for: ``from parallel import context``.

An unmodified SageMaker script needs none of this: it gets the same facts from the ``SM_*``
environment variables and its command-line arguments. Scripts that want checkpoints that
survive failures and preemption, DeepSpeed set up from the job's ``distribution``, or metrics
tracked by step use these functions::

    from parallel import context

    engine, *_ = context.initialize(model, model_parameters=model.parameters())
    for step in range(context.restored_step() or 0, steps):
        loss = engine(batch) ...
        context.log_metrics({"train:loss": loss.item()}, step + 1)
        if context.checkpoint_due(step + 1):
            context.save_checkpoint(step + 1, engine=engine)
    context.save_model(engine)

Every function must be called by every rank the same number of times where it says
"collective" (like ``torch.distributed`` calls).
"""

from __future__ import annotations

from mlcore import constants
from parallel._script import state as _state


def hyperparameters() -> dict:
    """The job's hyperparameters with their original types (SM_HPS)."""
    return dict(_state().hyperparameters)


def channel(name: str) -> str:
    """Local folder of input channel ``name`` (SM_CHANNEL_<NAME>)."""
    channels_ = _state().channels
    if name not in channels_:
        raise KeyError(f"no input channel {name!r}; this job has {sorted(channels_) or 'none'}")
    return channels_[name]


def channels() -> dict[str, str]:
    return dict(_state().channels)


def dataset(name: str):
    """This worker's Ray Data shard of a channel declared with ``input_mode: Pipe``."""
    import ray.train

    return ray.train.get_dataset_shard(name)


def model_dir() -> str:
    """Folder whose contents become the model artifact (SM_MODEL_DIR)."""
    return _state().model_dir


def output_data_dir() -> str:
    """Folder uploaded to ``<output_path>/<job>/output/data`` at the end (SM_OUTPUT_DATA_DIR)."""
    return _state().output_data_dir


def checkpoint_dir() -> str:
    """Worker-local checkpoint folder; holds the restored checkpoint after a restart."""
    return _state().checkpoint_dir


def rank() -> int:
    return _state().rank


def local_rank() -> int:
    return constants.get("LOCAL_RANK")


def world_size() -> int:
    return _state().world_size


def hosts() -> list[str]:
    return [f"algo-{i + 1}" for i in range(world_size())]


def current_host() -> str:
    return f"algo-{rank() + 1}"


def device():
    """The torch device this worker trains on (its CUDA device, the XLA device, or cpu)."""
    import torch

    backend = _state().plan.backend
    if backend == "nccl":  # the GPU Ray assigned to this worker (not simply cuda:LOCAL_RANK)
        import ray.train.torch

        return ray.train.torch.get_device()
    if backend == "xla":  # Trainium: torch-neuronx's XLA device
        import torch_xla.core.xla_model as xm

        return xm.xla_device()
    return torch.device("cpu")


def restored_step() -> int | None:
    """The step of the checkpoint this attempt resumed from, or None on a fresh start."""
    return _state().restored_step


def log_metrics(metrics: dict[str, float], step: int) -> None:
    """Track metrics at ``step`` (rank 0's values are kept; cheap: no barrier)."""
    st = _state()
    st.first_step_seen(step)
    st.buffer.add(step, metrics, {"step": step})


def checkpoint_due(step: int) -> bool:
    """Collective. True when a periodic checkpoint is due (``checkpoint_frequency`` steps and
    ``checkpoint_min_interval_s`` seconds apart) or a node of this job is about to be
    preempted (a just-in-time checkpoint); the same answer on every rank."""
    return _state().checkpoint_due(step)


def preemption_pending() -> bool:
    """Whether a just-in-time checkpoint was taken for a preemption notice in this attempt."""
    return _state().jit_step is not None


def save_checkpoint(step: int, engine=None, metrics: dict | None = None) -> None:
    """Collective. Save and commit a checkpoint for ``step``: the DeepSpeed ``engine``'s
    sharded checkpoint when given, else the files in :func:`checkpoint_dir`."""
    _state().save_checkpoint(step, engine, metrics or {})


def pipeline_parallel_degree() -> int:
    """Pipeline stages of this job (1 without pipeline parallelism)."""
    return _state().plan.pipeline_degree


def deepspeed_config() -> dict:
    """The DeepSpeed config built from the job's ``distribution``."""
    import copy

    return copy.deepcopy(_state().plan.deepspeed_config)


def initialize(model, optimizer=None, model_parameters=None, lr_scheduler=None,
               micro_batch_size: int | None = None, **kwargs):
    """Collective. ``deepspeed.initialize`` with the job's config; loads the restored
    checkpoint, if any, into the engine. ``micro_batch_size`` is the script's per-worker
    batch, used when the distribution names none. Returns DeepSpeed's 4-tuple."""
    from parallel import _deepspeed

    return _deepspeed.initialize(_state(), model, optimizer, model_parameters, lr_scheduler,
                                 micro_batch_size, **kwargs)


def pipeline_module(layers, loss_fn=None, **kwargs):
    """A DeepSpeed ``PipelineModule`` over ``layers`` split into the job's pipeline stages."""
    from parallel import _deepspeed

    return _deepspeed.pipeline_module(_state(), layers, loss_fn, **kwargs)


def save_model(model, filename: str = "model.pt") -> None:
    """Collective. Save the full (gathered) weights of ``model`` — a module or a DeepSpeed
    engine, ZeRO-3 and pipeline stages included — into :func:`model_dir`."""
    from parallel import _deepspeed

    _deepspeed.save_model(_state(), model, filename)


__all__ = ["channel", "channels", "checkpoint_dir", "checkpoint_due", "current_host", "dataset",
           "deepspeed_config", "device", "hosts", "hyperparameters", "initialize", "local_rank",
           "log_metrics", "model_dir", "output_data_dir", "pipeline_module", "pipeline_parallel_degree", "preemption_pending",
           "rank", "restored_step", "save_checkpoint", "save_model", "world_size"]
