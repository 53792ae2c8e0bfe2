"""A GPT-2 style decoder in plain PyTorch: one file a reader can hold in their head.

Token + position embeddings, pre-norm transformer blocks with causal self-attention through
`scaled_dot_product_attention`, an output layer tied to the token embedding, and a key/value
cache so that generation feeds one new token per step instead of the whole prefix.

A word-level vocabulary of a game (11,000 words for Elden Ring) makes the output layer half of a
training step on a CPU. With `head_tokens` set, the output is a two-level softmax in the manner of
the adaptive softmax (Grave et al., 2017): the `head_tokens` most frequent tokens (ids are in
frequency order) and one "rarer word" entry share the first softmax, and a rare token's
probability is that entry's times its own in a second softmax over the rare tokens. Training
scores the second one only at positions whose target is rare (14% of Elden Ring's). Both read
the tied embedding, which a small corpus needs: untied rare-word vectors overfit. The
log-probabilities it returns stand in for logits everywhere: a softmax of them is the same
distribution.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from soulsgen_lib.model.config import GPTConfig


class KVCache:
    """Keys and values of every layer for a batch of rows, preallocated to `block_size` positions."""

    def __init__(self, config: GPTConfig, batch: int, device: torch.device, dtype: torch.dtype) -> None:
        head_size = config.n_embd // config.n_head
        shape = (config.n_layer, batch, config.n_head, config.block_size, head_size)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # positions filled so far (the same for every row)

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Drop finished rows so that later steps compute only the live ones (copies only filled positions)."""
        self.keys = self._select(self.keys, rows)
        self.values = self._select(self.values, rows)

    def _select(self, tensor: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        kept = torch.empty((tensor.size(0), len(rows), *tensor.shape[2:]), dtype=tensor.dtype, device=tensor.device)
        kept[:, :, :, : self.length] = tensor[:, :, :, : self.length].index_select(1, rows)
        return kept


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if cache is None:
            dropout = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        else:
            start = cache.length
            cache.keys[layer, :, :, start : start + T] = k
            cache.values[layer, :, :, start : start + T] = v
            k = cache.keys[layer, :, :, : start + T]
            v = cache.values[layer, :, :, : start + T]
            mask = None
            if T > 1:  # several new tokens: each sees the cached prefix and the new tokens up to itself
                mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(diagonal=start)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x), approximate="tanh")))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: the same matrix reads and writes words
        self.rare_cutoff = head_cutoff(config)
        if self.rare_cutoff:
            self.rare_vector = nn.Parameter(torch.zeros(config.n_embd))  # writes the "rarer word" entry
        self.apply(self._init_weights)
        if self.rare_cutoff:
            nn.init.normal_(self.rare_vector, mean=0.0, std=0.02)
        for name, parameter in self.named_parameters():
            if name.endswith("proj.weight"):  # GPT-2: scale residual projections by depth
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        """Parameters counted once (the tied output layer shares the embedding)."""
        return sum(p.numel() for p in self.parameters())

    @property
    def two_level(self) -> bool:
        return bool(self.rare_cutoff)

    def _head_log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the frequent tokens and, last, of the "rarer word" entry."""
        weights = torch.cat([self.wte.weight[: self.rare_cutoff], self.rare_vector[None]])
        return F.log_softmax(F.linear(hidden, weights).float(), dim=-1)

    def _rare_log_probs(self, hidden: torch.Tensor) -> torch.Tensor:
        """Log-probabilities among the rare tokens alone."""
        return F.log_softmax(F.linear(hidden, self.wte.weight[self.rare_cutoff :]).float(), dim=-1)

    def _scores(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits (or, from a two-level softmax, log-probabilities) for hidden states (..., n_embd)."""
        if not self.two_level:
            return self.lm_head(hidden)
        head = self._head_log_probs(hidden)
        return torch.cat([head[..., :-1], head[..., -1:] + self._rare_log_probs(hidden)], dim=-1)

    def _two_level_loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean -log p of `targets` (N,) given `hidden` (N, n_embd): rare targets add their second softmax."""
        log_probs = self._head_log_probs(hidden).gather(1, targets.clamp(max=self.rare_cutoff)[:, None])[:, 0]
        rare = targets >= self.rare_cutoff
        if rare.any():
            within = self._rare_log_probs(hidden[rare]).gather(1, (targets[rare] - self.rare_cutoff)[:, None])[:, 0]
            log_probs = log_probs.masked_scatter(rare, log_probs[rare] + within)
        return -log_probs.mean()

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, ignore_index: int = -100
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, vocab) for a batch of token ids; the mean cross-entropy when targets are given.

        With a two-level softmax and targets, only the loss is computed (the logits are None): scoring
        every token of the vocabulary is the cost that head saves.
        """
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than block_size {self.config.block_size}")
        positions = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(positions))
        for layer, block in enumerate(self.blocks):
            x = block(x, None, layer)
        hidden = self.ln_f(x)
        if targets is None:
            return self._scores(hidden), None
        if self.two_level:
            flat_targets = targets.reshape(-1)
            kept = flat_targets != ignore_index
            return None, self._two_level_loss(hidden.reshape(-1, hidden.size(-1))[kept], flat_targets[kept])
        logits = self.lm_head(hidden)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=ignore_index)
        return logits, loss

    def new_cache(self, batch: int) -> KVCache:
        parameter = self.wte.weight
        return KVCache(self.config, batch, parameter.device, parameter.dtype)

    def decode(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Logits (B, vocab) of the next token after feeding `idx` (B, T) at the cache's current position."""
        B, T = idx.shape
        start = cache.length
        if start + T > self.config.block_size:
            raise ValueError(f"decoding past block_size {self.config.block_size}")
        positions = torch.arange(start, start + T, device=idx.device)
        x = self.wte(idx) + self.wpe(positions)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        cache.length = start + T
        return self._scores(self.ln_f(x[:, -1, :]))


def head_cutoff(config: GPTConfig) -> int:
    """The first rare token id of the two-level softmax; 0 (one full softmax) where the vocabulary is no larger."""
    return config.head_tokens if 0 < config.head_tokens < config.vocab_size - 1 else 0
