"""A small decoder-only transformer language model that splits into pipeline stages, and
synthetic token data to train it on: the reference model of the DeepSpeed examples.

``layers(cfg)`` is a flat list ``[Embed, Block x n_layers, Head]`` that ``TinyLM`` runs in
sequence and DeepSpeed's ``PipelineModule`` partitions into stages; each layer maps one tensor
to one tensor (token ids -> hidden ``[batch, seq, d_model]`` -> logits ``[batch, seq, vocab]``),
which is what a pipeline passes between stages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class LMConfig:
    vocab: int = 64
    seq_len: int = 32
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 4

    @classmethod
    def from_hyperparameters(cls, hp: dict) -> LMConfig:
        return cls(**{k: int(hp[k]) for k in asdict(cls()) if k in hp})


class Embed(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.seq_len, cfg.d_model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.tok(ids) + self.pos(positions)[None]


class Block(nn.Module):
    """Pre-norm causal self-attention and MLP, both residual."""

    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = nn.MultiheadAttention(cfg.d_model, cfg.n_heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        n = h.shape[1]
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool, device=h.device), diagonal=1)
        x = self.ln1(h)
        h = h + self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
        return h + self.mlp(self.ln2(h))


class Head(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.ln = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.vocab)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.ln(h))


def layers(cfg: LMConfig) -> list[nn.Module]:
    return [Embed(cfg), *[Block(cfg) for _ in range(cfg.n_layers)], Head(cfg)]


class TinyLM(nn.Sequential):
    def __init__(self, cfg: LMConfig):
        super().__init__(*layers(cfg))
        self.cfg = cfg


def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy; ``labels`` are the inputs shifted by one."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def token_data(n_sequences: int, cfg: LMConfig, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Learnable synthetic text: each sequence counts up from a random start with a random
    stride (mod vocab), with 5% of tokens replaced by noise. Returns ``(inputs, labels)``."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, cfg.vocab, (n_sequences, 1), generator=g)
    stride = torch.randint(1, 4, (n_sequences, 1), generator=g)
    seq = (start + stride * torch.arange(cfg.seq_len + 1)[None]) % cfg.vocab
    noise = torch.rand(seq.shape, generator=g) < 0.05
    seq = torch.where(noise, torch.randint(0, cfg.vocab, seq.shape, generator=g), seq)
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


def load(model_dir: str, cfg: LMConfig) -> TinyLM:
    """A full model from a model folder: ``model.pt`` (one state dict) or a pipeline's
    ``layer_NN-model_states.pt`` files."""
    import glob
    import os

    model = TinyLM(cfg)
    single = os.path.join(model_dir, "model.pt")
    if os.path.exists(single):
        model.load_state_dict(torch.load(single))
        return model
    paths = glob.glob(os.path.join(model_dir, "layer_*-model_states.pt"))
    found = {int(os.path.basename(p).split("_")[1].split("-")[0]): p for p in paths}
    if sorted(found) != list(range(len(model))):
        raise FileNotFoundError(f"{model_dir} has layers {sorted(found)}; a {len(model)}-layer "
                                "model needs model.pt or every layer_NN-model_states.pt")
    for idx, path in found.items():
        model[idx].load_state_dict(torch.load(path))
    return model


__all__ = ["Block", "Embed", "Head", "LMConfig", "TinyLM", "layers", "load", "loss_fn", "token_data"]
