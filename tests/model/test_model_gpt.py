import pytest
import torch

from soulsgen_lib.model import ModelError
from soulsgen_lib.model.config import PRESETS, GPTConfig, preset, resolve_configs
from soulsgen_lib.model.device import autocast_for, cpu_computes_bf16
from soulsgen_lib.model.gpt import GPT, head_cutoff


def tiny_gpt(head_tokens: int = 0) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0, head_tokens=head_tokens
    )
    return GPT(config).eval()


@pytest.fixture(params=[0, 10], ids=["full-head", "two-level-softmax"])
def small_gpt(request) -> GPT:
    return tiny_gpt(head_tokens=request.param)


def full_logits(model: GPT, tokens: torch.Tensor) -> torch.Tensor:
    logits, _ = model(tokens)
    return logits


def test_presets_have_the_documented_shapes():
    assert (PRESETS["small"].model.n_layer, PRESETS["small"].model.n_embd) == (4, 256)
    large = PRESETS["large"].model
    assert (large.n_layer, large.n_head, large.n_embd, large.block_size) == (12, 16, 1024, 64)
    assert PRESETS["tiny"].model.n_embd < PRESETS["small"].model.n_embd


def test_the_old_preset_name_seed_says_its_new_name():
    with pytest.raises(ModelError, match="'seed' is now called 'large'"):
        preset("seed")
    with pytest.raises(ModelError, match="'seed' is now called 'large'"):
        resolve_configs("seed")


def test_output_layer_is_tied_to_the_token_embedding(small_gpt):
    assert small_gpt.lm_head.weight is small_gpt.wte.weight
    tokens = torch.randint(0, 50, (2, 6))
    _, loss = small_gpt.train()(tokens, tokens)
    loss.backward()
    assert small_gpt.wte.weight.grad[40:].abs().sum() > 0  # the rare rows learn as outputs too


def test_the_two_level_softmax_gives_a_whole_distribution_and_its_loss():
    model = tiny_gpt(head_tokens=10)
    assert head_cutoff(model.config) == 10
    tokens = torch.randint(0, 50, (3, 8))
    log_probs = full_logits(model, tokens)
    assert log_probs.shape == (3, 8, 50)
    assert torch.allclose(log_probs.logsumexp(-1), torch.zeros(3, 8), atol=1e-5)  # normalised over every token
    # The training loss is the mean -log p of frequent and rare targets alike, padding left out.
    targets = torch.randint(0, 50, (3, 8))
    targets[0, :4] = torch.arange(46, 50)
    targets[2, 5:] = -100
    logits, loss = model(tokens, targets)
    assert logits is None  # the full scores are the cost the head saves while training
    kept = targets != -100
    expected = -log_probs[kept].gather(-1, targets[kept].unsqueeze(-1)).mean()
    assert torch.isclose(loss, expected, atol=1e-5)


def test_the_two_level_softmax_applies_only_to_a_larger_vocabulary():
    def cutoff(vocab: int, head: int) -> int:
        return head_cutoff(GPTConfig(vocab_size=vocab, head_tokens=head))

    assert cutoff(11040, 2000) == 2000
    assert cutoff(1500, 2000) == 0  # smaller than the head: a plain output layer
    assert cutoff(2001, 2000) == 0  # a lone rare word is no second softmax
    assert cutoff(11040, 0) == 0
    assert not GPT(GPTConfig(vocab_size=1500, n_layer=1, n_embd=32, n_head=2, head_tokens=2000)).two_level


def test_attention_is_causal(small_gpt):
    tokens = torch.randint(0, 50, (1, 10))
    changed = tokens.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 50
    logits, _ = small_gpt(tokens)
    logits_changed, _ = small_gpt(changed)
    assert torch.allclose(logits[0, :7], logits_changed[0, :7], atol=1e-5)
    assert not torch.allclose(logits[0, 7:], logits_changed[0, 7:], atol=1e-5)


def test_cached_decoding_matches_the_full_forward_pass(small_gpt):
    tokens = torch.randint(0, 50, (3, 12))
    full, _ = small_gpt(tokens)
    cache = small_gpt.new_cache(3)
    stepped = [small_gpt.decode(tokens[:, :5], cache)]  # a prompt of five tokens at once, then one by one
    for t in range(5, 12):
        stepped.append(small_gpt.decode(tokens[:, t : t + 1], cache))
    assert torch.allclose(stepped[0], full[:, 4], atol=1e-5)
    for offset, logits in enumerate(stepped[1:], start=5):
        assert torch.allclose(logits, full[:, offset], atol=1e-5)


def test_dropping_rows_from_the_cache_keeps_the_other_rows_exact(small_gpt):
    tokens = torch.randint(0, 50, (4, 8))
    full, _ = small_gpt(tokens)
    cache = small_gpt.new_cache(4)
    for t in range(4):
        small_gpt.decode(tokens[:, t : t + 1], cache)
    keep = torch.tensor([0, 2])
    cache.keep_rows(keep)
    for t in range(4, 8):
        logits = small_gpt.decode(tokens[keep, t : t + 1], cache)
    assert torch.allclose(logits, full[keep, 7], atol=1e-5)


def test_loss_ignores_padding_targets(small_gpt):
    tokens = torch.randint(0, 50, (2, 6))
    targets = tokens.clone()
    _, loss_all = small_gpt(tokens, targets)
    targets[:, 3:] = -100
    _, loss_part = small_gpt(tokens, targets)
    logits = full_logits(small_gpt, tokens)
    expected = torch.nn.functional.cross_entropy(logits[:, :3].reshape(-1, 50), tokens[:, :3].reshape(-1))
    assert torch.isclose(loss_part, expected, atol=1e-5)
    assert not torch.isclose(loss_all, loss_part)


def test_sequences_longer_than_the_context_are_refused(small_gpt):
    with pytest.raises(ValueError, match="block_size"):
        small_gpt(torch.zeros(1, 17, dtype=torch.long))


def test_precision_setting_picks_the_autocast():
    small_gpt = tiny_gpt()  # a full output layer: its logits show the autocast's type
    cpu = torch.device("cpu")
    inputs = torch.randint(0, 50, (2, 8))

    def logits_dtype(precision: str) -> torch.dtype:
        with autocast_for(cpu, precision):
            return small_gpt(inputs)[0].dtype

    assert logits_dtype("fp32") == torch.float32
    assert logits_dtype("bf16") == torch.bfloat16
    # Left empty, bf16 only where this CPU computes it natively (emulated bf16 is slower than fp32).
    assert logits_dtype("") == (torch.bfloat16 if cpu_computes_bf16() else torch.float32)


def test_precision_setting_is_checked():
    _, train_config = resolve_configs("small", overrides={"precision": "bf16"})
    assert train_config.precision == "bf16"
    with pytest.raises(ModelError, match="precision must be fp32, bf16 or empty"):
        resolve_configs("small", overrides={"precision": "fp16"})
