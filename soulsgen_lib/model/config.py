"""Every setting of the model stage: network shape, presets (named here only), training and sampling.

A preset is a model shape (`GPTConfig`) plus a training budget (`TrainConfig`); `resolve_configs`
applies `--steps` and `--set KEY=VALUE` overrides on top, typed and checked. The filter limits
are `soulsgen_lib.model.filters.FilterConfig`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from soulsgen_lib.model.errors import ModelError

TOKENIZER_KINDS = ("word", "subword")
PROMPT_STRATEGIES = ("none", "familiar")
PRECISIONS = ("", "fp32", "bf16")  # "": bf16 where the device computes it natively, else fp32 (model/device.py)


@dataclass
class GPTConfig:
    """Shape of the network; any field can be overridden on top of a preset."""

    vocab_size: int = 8000  # replaced by the tokenizer's real size when training
    block_size: int = 64  # longest context in tokens; game sentences fit easily
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.2  # small corpora overfit fast: keep this on by default
    bias: bool = True
    # Two-level softmax (see gpt.py): this many most frequent tokens in the first, the rarer ones in a
    # second that training scores only where the target is rare. 0: one softmax over every token.
    head_tokens: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> GPTConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclass
class TrainConfig:
    """How to train; presets set these, `overrides` may change any of them."""

    max_steps: int = 1500
    batch_size: int = 32  # rows per step (per process under torchrun)
    learning_rate: float = 1e-3
    min_lr_ratio: float = 0.1  # cosine decay ends at learning_rate * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.99  # small batches: a shorter second-moment memory than 0.999 is steadier
    eval_every: int = 100  # also the checkpoint interval
    eval_max_blocks: int = 64  # validation blocks per periodic evaluation; the final one uses all
    patience: int = 4  # evaluations without improvement before stopping early
    min_improvement: float = 0.002  # validation loss must drop by this much to count as better
    log_every: int = 10
    tokenizer: str = ""  # "word" or "subword" (see model/tokenizer.py); "": the folder's, else "word"
    max_vocab: int = 0  # 0: the tokenizer kind's default (see train_tokenizer)
    compile: bool = False  # torch.compile the model (GPUs; slow to start on CPU)
    weight_average: float = 0.0  # decay of a moving average of the weights, evaluated and kept instead (0: off)
    word_dropout: float = 0.0  # share of input tokens read as <unk> each step, targets kept (0: off; see data.py)
    precision: str = ""  # "fp32" or "bf16" autocast; "": bf16 where the device computes it natively (see device.py)
    max_minutes: float = 0.0  # stop (keeping the best weights) after this much training time; 0 = no limit
    device: str = ""  # "" picks cuda, then mps, then cpu


@dataclass(frozen=True)
class Preset:
    """A named model shape and the training budget that goes with it."""

    model: GPTConfig
    train: TrainConfig


PRESETS: dict[str, Preset] = {
    "tiny": Preset(  # tests: trains in seconds
        GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=64, dropout=0.1, head_tokens=40),
        TrainConfig(
            max_steps=40, batch_size=16, learning_rate=3e-3, warmup_steps=5, eval_every=10, log_every=5, patience=100
        ),
    ),
    # The CPU default: 13 minutes of training (or early stopping) on two cores. On real game text a
    # 4 x 256 model trained in that time beat the 6 x 384 one (test perplexity 70.6 vs 87.9 on Elden
    # Ring): twice the steps per minute outweigh the width, and its early stop guards a fast machine.
    # A rate of 1e-3 overfits a game's text later than 2e-3 and ends lower (test perplexity 69.0
    # against 77.5 on Elden Ring, 90.3 against 125.8 on Sekiro's far smaller text). On a machine half
    # as fast (600 steps in the budget) 2e-3 did better on Elden Ring (77.2 against 81.6). Keeping a
    # moving average of the weights (decay 0.99) brought Elden Ring's test perplexity from 70.4 to
    # 67.1 (bf16 steps; dropout 0.3 instead: 72.1). On a CPU without bf16 (AVX2 only) a step took 1.4 s
    # and the budget ended at 531 steps (test perplexity 93.8): the softmax over Elden Ring's 11,040
    # words was half of each step. The two-level softmax (2,000 words in the first) took a step to
    # 0.8 s and the run to 951 steps and 79.7 (Dark Souls III, which stops early: 119.1 and 119.5).
    # Word dropout 0.1 (a tenth of the input words read as <unk>, the targets kept) on that machine:
    # Elden Ring 79.1 to 63.4 in the same budget, Dark Souls III 119.4 to 94.1 (early stop at 900
    # steps instead of 650); dropout 0.3 instead did worse (125.4). With bf16 steps, where the early
    # stop binds rather than the clock, 0.2 beat 0.1: Elden Ring 59.9 to 57.9 (best step 1,000 to
    # 1,500), Dark Souls III 94.1 to 90.0, Sekiro 113.6 to 110.3, the sample data 4.50 either way.
    "small": Preset(
        GPTConfig(block_size=64, n_layer=4, n_head=4, n_embd=256, dropout=0.2, head_tokens=2000),
        TrainConfig(
            max_steps=2500,
            batch_size=32,
            learning_rate=1e-3,
            warmup_steps=50,
            eval_every=50,
            max_minutes=13.0,
            weight_average=0.99,
            word_dropout=0.2,
        ),
    ),
    "large": Preset(  # the original bot's size: a GPU's work
        GPTConfig(block_size=64, n_layer=12, n_head=16, n_embd=1024, dropout=0.1),
        TrainConfig(max_steps=10000, batch_size=64, learning_rate=3e-4, warmup_steps=500, eval_every=250),
    ),
}
DEFAULT_PRESET = "small"
_RENAMED_PRESETS = {"seed": "large"}  # old name -> new name: said in the error, never applied silently


def preset(name: str) -> Preset:
    """The preset called `name`; ModelError lists the known ones (and a renamed one's new name)."""
    if name in _RENAMED_PRESETS:
        raise ModelError(f"the preset {name!r} is now called {_RENAMED_PRESETS[name]!r}; use that name")
    if name not in PRESETS:
        raise ModelError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


@dataclass
class SamplingDefaults:
    """Sampling settings used when a request leaves a field empty (filter limits: `FilterConfig`).

    Tuned with `soulsgen evaluate` on real game text (Elden Ring's item and menu text) and checked
    on Sekiro's and the sample data: the word class (glue word, punctuation, shape class) is chosen
    by the network leaning on the training text's class grammar, and the word within it hot (see
    model/decoding.py). One temperature could not have both: at 1.2 the part-of-speech perplexity
    of the sentences stood well above the real text's, and cooling brought it down only by
    collapsing MAUVE and distinct-2 (the commonest class orders, "of the", crowd out the rest).
    With the grammar at weight 0.5 the class choice needs no cooling, and a top-k of 500 adds the
    rarer words: MAUVE and distinct-2 rose and the fine part-of-speech (Penn tag) perplexity stayed
    within 5% of the real text's. A heavier grammar made sentences shorter and MAUVE lower.
    """

    temperature: float = 1.5  # of the word within its class (of every token when class_temperature is 0)
    class_temperature: float = 1.0  # of the word class; 0: no class step, nor grammar (whole-word models only)
    grammar_weight: float = 0.5  # power of the training text's class grammar on the class choice (0: off)
    glue_words: int = 150  # this many most frequent corpus words are classes of their own
    max_shared_run: int = 5  # words in a row that may not replay a run of the training text (0: off)
    top_p: float = 1.0
    top_k: int = 500  # bounds the sort per step; the tail beyond it is noise
    min_p: float = 0.0  # drop tokens less likely than this share of the likeliest one (0: off)
    prompt: str = "none"  # "none": start from <s>; "familiar": start with a frequent words.txt word
    max_rounds: int = 8  # resampling rounds before giving up on a request
    shaped: bool = True  # keep rows to the filters' sentence shape while decoding (model/shaping.py)

    @classmethod
    def for_tokenizer(cls, kind: str) -> SamplingDefaults:
        """The defaults for a model with a `kind` tokenizer.

        A sub-word piece has no word class, so one temperature samples every token: the hot
        within-class 1.5 would garble the pieces (on the toy corpus 53% of first drafts passed at
        1.5 against 66% at 1.0), so it samples at 1.0, the network's own distribution.
        """
        return cls() if kind == "word" else cls(temperature=1.0)

    @classmethod
    def from_dict(cls, values: dict) -> SamplingDefaults:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def resolve_configs(
    preset_name: str, steps: int | None = None, overrides: dict | None = None
) -> tuple[GPTConfig, TrainConfig]:
    """The model and training configs of a preset with `steps` and any field overridden."""
    chosen = preset(preset_name)
    model_fields = {f.name for f in fields(GPTConfig)}
    train_fields = {f.name for f in fields(TrainConfig)}
    model_changes: dict[str, Any] = {}
    train_changes: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key == "vocab_size":
            raise ModelError("vocab_size comes from the tokenizer; set max_vocab instead")
        if key in model_fields:
            model_changes[key] = coerce_setting(key, value, type(getattr(chosen.model, key)))
        elif key in train_fields:
            train_changes[key] = coerce_setting(key, value, type(getattr(chosen.train, key)))
        else:
            known = ", ".join(sorted(model_fields | train_fields))
            raise ModelError(f"unknown setting {key!r}; known settings: {known}")
    if steps is not None:
        train_changes["max_steps"] = steps
    model_config = replace(chosen.model, **model_changes)
    train_config = replace(chosen.train, **train_changes)
    if model_config.n_embd % model_config.n_head:
        raise ModelError(f"n_embd {model_config.n_embd} must be a multiple of n_head {model_config.n_head}")
    if train_config.tokenizer not in ("", *TOKENIZER_KINDS):
        raise ModelError(f"tokenizer must be one of {', '.join(TOKENIZER_KINDS)}, got {train_config.tokenizer!r}")
    if train_config.precision not in PRECISIONS:
        raise ModelError(f"precision must be fp32, bf16 or empty (the device's best), got {train_config.precision!r}")
    if not 0.0 <= train_config.weight_average < 1.0:
        raise ModelError(f"weight_average is a decay in [0, 1) (0: off), got {train_config.weight_average}")
    if not 0.0 <= train_config.word_dropout < 1.0:
        raise ModelError(f"word_dropout is a share in [0, 1) (0: off), got {train_config.word_dropout}")
    if train_config.max_steps < 1 or train_config.batch_size < 1 or train_config.eval_every < 1:
        raise ModelError("max_steps, batch_size and eval_every must be at least 1")
    return model_config, train_config


def coerce_setting(key: str, value: Any, kind: type) -> Any:
    """`value` (a command line's text, say) as a `kind`; ModelError names `key` when it is not one."""
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    try:
        if kind is bool:
            if str(value).lower() in {"1", "true", "yes", "on"}:
                return True
            if str(value).lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ModelError(f"setting {key!r} must be a {kind.__name__}, got {value!r}") from None
