"""DeepSpeed inside a script-mode worker: the engine from the job's plan, pipeline modules
split into the plan's stages, restore from the committed checkpoint, gathered model saves."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("mlcore")


def _ensure_distributed(st) -> None:
    import deepspeed

    # TorchTrainer has already created the process group; DeepSpeed adopts it.
    deepspeed.init_distributed(dist_backend=st.plan.backend)


def initialize(st, model, optimizer=None, model_parameters=None, lr_scheduler=None,
               micro_batch_size=None, **kwargs):
    import copy

    import deepspeed

    if st.plan.kind != "deepspeed":
        raise RuntimeError("context.initialize needs distribution={'deepspeed': {...}} (or "
                           "smdistributed modelparallel); this job runs plain DDP")
    _ensure_distributed(st)
    config = copy.deepcopy(kwargs.pop("config", None) or st.plan.deepspeed_config)
    if micro_batch_size and not ({"train_batch_size", "train_micro_batch_size_per_gpu"} & set(config)):
        config["train_micro_batch_size_per_gpu"] = micro_batch_size
    if model_parameters is None and optimizer is None:
        model_parameters = [p for p in model.parameters() if p.requires_grad]
    out = deepspeed.initialize(model=model, optimizer=optimizer, model_parameters=model_parameters,
                               lr_scheduler=lr_scheduler, config=config, **kwargs)
    engine = out[0]
    if st.restored_step is not None:
        path, _ = engine.load_checkpoint(st.checkpoint_dir)
        if path is None:
            raise RuntimeError(f"the restored checkpoint of step {st.restored_step} has no "
                               f"DeepSpeed state in {st.checkpoint_dir}")
        log.info("rank %d: DeepSpeed state loaded from %s", st.rank, path)
    return out


def pipeline_module(st, layers, loss_fn=None, **kwargs):
    from deepspeed.pipe import PipelineModule

    _ensure_distributed(st)  # PipelineModule needs the process group to place its stages
    kwargs.setdefault("partition_method", st.plan.partition_method)
    return PipelineModule(layers=layers, num_stages=st.plan.pipeline_degree, loss_fn=loss_fn, **kwargs)


def save_model(st, model, filename: str) -> None:
    """Full weights into the model folder. A pipeline stage saves its own layers
    (``layer_NN-model_states.pt``, DeepSpeed's names); otherwise rank 0 saves one state dict,
    with ZeRO-3's partitioned parameters gathered first."""
    import torch

    module = getattr(model, "module", model)
    try:
        from deepspeed.pipe import PipelineModule
    except ImportError:  # DeepSpeed is optional for plain DDP scripts
        PipelineModule = ()
    if PipelineModule and isinstance(module, PipelineModule):
        if module._grid.data_parallel_id == 0:  # one copy per stage; DeepSpeed's file names
            for i, layer in enumerate(module.forward_funcs):
                if hasattr(layer, "state_dict"):
                    torch.save({k: v.detach().cpu() for k, v in layer.state_dict().items()},
                               os.path.join(st.model_dir, f"layer_{i + module._local_start:02d}-model_states.pt"))
        return
    params = list(module.parameters())
    if any(hasattr(p, "ds_id") for p in params):  # ZeRO-3: gather the shards on every rank
        import deepspeed

        with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
            state = {k: v.detach().clone().cpu() for k, v in module.state_dict().items()}
    else:
        state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    if st.rank == 0:
        torch.save(state, os.path.join(st.model_dir, filename))
