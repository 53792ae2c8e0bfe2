"""Generate sentences: batched, key/value-cached sampling with filters and resampling.

All requests are decoded together, one forward pass per step for the whole batch; a row stops
at `</s>` and leaves the batch, so short sentences cost only their own length. Each row draws
its random numbers from its own seeded generator, so a request with a seed gives the same
sentence on CPU whatever else is in the batch. Rows whose sentence fails a filter (shape,
duplicate in the batch, copy or near-copy of a training sentence) are resampled.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path

import torch

from soulsgen_lib.model import MODEL_FILES
from soulsgen_lib.model.constraint import WordConstraint
from soulsgen_lib.model.device import bf16_supported, pick_device
from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.gpt import GPT, GPTConfig
from soulsgen_lib.model.novelty import INDEX_FILE, NEAR_COPY_RATIO, NoveltyIndex
from soulsgen_lib.model.tokenizer import AnyTokenizer, SubwordTokenizer, load_tokenizer, split_words
from soulsgen_lib.textcheck import TWEET_MAX_WEIGHT, shape_problem

PROMPT_STRATEGIES = ("none", "familiar")
# "with with", "the the": a small model's stutter, almost never meant in game text.
_REPEATED_WORD = re.compile(r"\b([A-Za-z]+)\s+\1\b", re.IGNORECASE)
_ARTICLE = re.compile(r"\b(an?)\s+([^\W\d_][\w'’-]*)", re.IGNORECASE)
_SILENT_H = ("hour", "honest", "honor", "honour", "heir")
_SENTENCE_BREAKS = frozenset({"", ".", "!", "?", ":", ";", '"', "“", "‘", "'", "(", "—", "…"})
_OPENING_MARKS = frozenset({'"', "'", "“", "‘", "(", "[", "...", "…", "¿", "¡"})


def article_mismatch(text: str, corpus_pairs: Container[tuple[str, str]]) -> bool:
    """Whether `text` says "a" before a vowel or "an" before a consonant ("heavier than an kiln").

    Only clear cases are judged: not words whose sound the spelling does not tell ("a unique", "an
    unlit", "a one-eyed", "a European"), initialisms ("an X-ray"), or a capital "A" inside a sentence
    ("Plan A is lost"); "an hour" and its kin are known. A pair the corpus itself uses (case-folded,
    as in `NoveltyIndex.bigrams`) always passes.
    """
    for match in _ARTICLE.finditer(text):
        article, word = match.group(1), match.group(2)
        if article[0] == "A" and text[: match.start()].rstrip()[-1:] not in _SENTENCE_BREAKS:
            continue
        if word.isupper() or re.match(r"[A-Z](?:[-.]|$)", word):
            continue
        article, word = article.casefold(), word.casefold()
        first = unicodedata.normalize("NFD", word)[0]  # "é" is a vowel
        if first == "u" or word.startswith(("one", "once", "eu", "ew")) or (article, word) in corpus_pairs:
            continue
        if (article == "an") != (first in "aeio" or word.startswith(_SILENT_H)):
            return True
    return False


def can_open_sentence(token: str) -> bool:
    """Whether a sentence may start with `token`: a capitalised word, a number or an opening mark."""
    return token in _OPENING_MARKS or token[:1].isupper() or token[:1].isdigit()


class GenerationError(ModelError):
    """A generation request is invalid, or no sentence passed the filters."""


@dataclass
class SamplingDefaults:
    """Sampling and filter settings used when a request leaves a field empty.

    Tuned with `soulsgen evaluate` (1,000 sentences) on the sample data's `small` model: no prompt
    beat the familiar-word prompt on every measure (length divergence 0.08 vs 0.33, distinct-2
    0.35 vs 0.16 at T=0.9), and T=1.2 without a nucleus cut gave the most new sentences with the
    closest length histogram. A word-level model cannot garble words, so it affords the heat.
    """

    temperature: float = 1.2
    top_p: float = 1.0
    top_k: int = 200  # bounds the sort per step; the tail beyond it is noise
    prompt: str = "none"  # "none": start from <s>; "familiar": start with a frequent words.txt word
    min_words: int = 4
    max_words: int = 40
    max_chars: int = TWEET_MAX_WEIGHT
    near_copy_ratio: float = NEAR_COPY_RATIO
    max_rounds: int = 8  # resampling rounds before giving up on a request

    @classmethod
    def from_dict(cls, values: dict) -> SamplingDefaults:
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclass
class GenerationRequest:
    """One sentence wanted; None fields take the model's tuned defaults.

    prompt None = follow `prompt_strategy` ("familiar": a random familiar word from words.txt,
    "none": no prompt; None: the model's tuned strategy), "" = no prompt, other text = the start.
    """

    prompt: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_chars: int | None = None
    seed: int | None = None
    prompt_strategy: str | None = None


@dataclass
class GenerationStats:
    """Counts over every sampled row: how many were accepted and why the others were rejected."""

    sampled: int = 0
    accepted: int = 0
    first_try: int = 0  # requests accepted on their first sample
    requests: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.sampled if self.sampled else 0.0

    @property
    def first_try_rate(self) -> float:
        return self.first_try / self.requests if self.requests else 0.0

    def to_dict(self) -> dict:
        return {
            "requests": self.requests,
            "sampled": self.sampled,
            "accepted": self.accepted,
            "acceptance_rate": round(self.acceptance_rate, 4),
            "first_try_rate": round(self.first_try_rate, 4),
            "rejected": dict(self.rejected.most_common()),
        }


@dataclass
class Draft:
    """One decoded row before or after filtering; `problem` is None when it passed."""

    text: str
    problem: str | None
    token_count: int


@dataclass
class _Row:
    forced: list[int]  # prompt tokens the row must start with (after <s>)
    uniforms: torch.Tensor  # this row's random numbers, one per decoding step
    temperature: float
    top_p: float
    max_chars: int


def row_seed(seed: int, index: int) -> int:
    """A seed for row `index` of a call seeded with `seed` (stable across runs and platforms)."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


class Generator:
    """A trained model folder loaded for sampling."""

    def __init__(
        self,
        model: GPT,
        tokenizer: AnyTokenizer,
        novelty: NoveltyIndex,
        familiar: list[tuple[list[int], int]],
        defaults: SamplingDefaults,
        model_version: str,
        device: torch.device,
        constraint: WordConstraint | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.constraint = constraint  # a sub-word model's guard against invented words
        self.novelty = novelty
        self.defaults = defaults
        self.model_version = model_version
        self.device = device
        self.stats = GenerationStats()
        self._familiar_ids = [ids for ids, _ in familiar]
        self._familiar_cumulative = torch.tensor([count for _, count in familiar], dtype=torch.float64).cumsum(0)
        banned = [tokenizer.pad_id, tokenizer.bos_id, tokenizer.unk_id]
        self._banned = torch.tensor(banned, dtype=torch.long, device=device)
        # A sentence never opens with a lowercase word or closing punctuation ("am consumed by ...", ", and").
        non_openers = [i for i in range(tokenizer.vocab_size) if not can_open_sentence(tokenizer.id_to_token(i))]
        self._non_openers = torch.tensor(non_openers, dtype=torch.long, device=device)
        # Characters of each token without spaces: a lower bound on a row's text length so far.
        self._token_chars = torch.tensor(
            [len(tokenizer.piece_text(i)) for i in range(tokenizer.vocab_size)], dtype=torch.long
        )

    @classmethod
    def load(cls, model_dir: Path, device: str | None = None, precision: str | None = None) -> Generator:
        """Load model.pt, tokenizer.json, words.txt, the novelty index and the model card from `model_dir`.

        `precision` "bf16" halves the weights' memory traffic (about 1.7x faster single sentences on
        CPUs with bf16 support); None means bf16 on GPUs that support it, fp32 elsewhere.
        """
        model_dir = Path(model_dir)
        if precision not in (None, "fp32", "bf16"):
            raise GenerationError(f"precision must be fp32 or bf16, got {precision!r}")
        missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
        if missing:
            raise ModelError(f"{model_dir}: not a complete model folder, missing {', '.join(missing)}; train one")
        target = pick_device(device)
        tokenizer = load_tokenizer(model_dir / "tokenizer.json")
        try:
            checkpoint = torch.load(model_dir / "model.pt", map_location=target, weights_only=False)
            config = GPTConfig.from_dict(checkpoint["model_config"])
        except Exception as error:  # torch raises many types for a truncated or foreign file
            raise ModelError(f"{model_dir / 'model.pt'}: unreadable ({type(error).__name__}); train again") from None
        if checkpoint.get("tokenizer_sha256") != tokenizer.sha256():
            raise ModelError(f"{model_dir / 'model.pt'}: trained with another tokenizer than tokenizer.json beside it")
        model = GPT(config)
        model.load_state_dict(checkpoint["model"])
        model.to(target)
        if precision == "bf16" or (precision is None and bf16_supported(target)):
            model.to(torch.bfloat16)
        card = json.loads((model_dir / "model_card.json").read_text(encoding="utf-8"))
        defaults = SamplingDefaults.from_dict(card.get("sampling", {}))
        novelty = NoveltyIndex.load(model_dir / INDEX_FILE)
        constraint = None
        if isinstance(tokenizer, SubwordTokenizer):
            if not checkpoint.get("words"):
                raise ModelError(f"{model_dir / 'model.pt'}: a sub-word model without its corpus words; train again")
            constraint = WordConstraint(tokenizer, checkpoint["words"])
        vocabulary = constraint.words if constraint else None
        familiar = read_familiar_words(model_dir / "words.txt", tokenizer, vocabulary)
        version = str(card.get("model_version", "unknown"))
        return cls(model, tokenizer, novelty, familiar, defaults, version, target, constraint)

    def sample(self, n: int, seed: int | None = None, prompt: str | None = None) -> list[str]:
        """`n` accepted sentences; the same seed gives the same sentences on CPU."""
        base = secrets.randbits(62) if seed is None else seed
        return self.generate([GenerationRequest(prompt=prompt, seed=row_seed(base, i)) for i in range(n)])

    def generate(self, requests: list[GenerationRequest]) -> list[str]:
        """One accepted sentence per request, all decoded in one batch; failed rows are resampled."""
        plans = [self._plan(request) for request in requests]
        results: list[str | None] = [None] * len(requests)
        accepted_texts: set[str] = set()
        pending = list(range(len(requests)))
        self.stats.requests += len(requests)
        for attempt in range(self.defaults.max_rounds):
            copies = min(4, attempt + 1)  # later rounds try a few samples per stubborn request at once
            owners = [index for index in pending for _ in range(copies)]
            drafts = self._decode([plans[index].next_row() for index in owners])
            for index, draft in zip(owners, drafts, strict=True):
                if results[index] is not None:
                    continue
                problem = draft.problem or ("duplicate" if draft.text in accepted_texts else None)
                self.stats.sampled += 1
                if problem:
                    self.stats.rejected[problem] += 1
                    continue
                results[index] = draft.text
                accepted_texts.add(draft.text)
                self.stats.accepted += 1
                self.stats.first_try += attempt == 0
            pending = [index for index in pending if results[index] is None]
            if not pending:
                break
        if pending:
            prompts = sorted({repr(requests[i].prompt) for i in pending})
            raise GenerationError(
                f"{len(pending)} of {len(requests)} requests got no sentence past the filters in "
                f"{self.defaults.max_rounds} rounds (prompts {', '.join(prompts)}); try another prompt or temperature"
            )
        return [text for text in results if text is not None]

    def draft(self, requests: list[GenerationRequest]) -> list[Draft]:
        """One raw sample per request with the first filter it fails (no resampling): for evaluation."""
        drafts = self._decode([self._plan(request).next_row() for request in requests])
        seen: set[str] = set()
        for draft in drafts:
            if draft.problem is None and draft.text in seen:
                draft.problem = "duplicate"
            seen.add(draft.text)
        return drafts

    def _plan(self, request: GenerationRequest) -> _Plan:
        """Validate a request and fix its settings and random stream."""
        d = self.defaults
        temperature = d.temperature if request.temperature is None else request.temperature
        top_p = d.top_p if request.top_p is None else request.top_p
        max_chars = d.max_chars if request.max_chars is None else request.max_chars
        if not (isinstance(temperature, int | float) and 0 < temperature <= 5):
            raise GenerationError(f"temperature must be a number in (0, 5], got {temperature!r}")
        if not (isinstance(top_p, int | float) and 0 < top_p <= 1):
            raise GenerationError(f"top_p must be a number in (0, 1], got {top_p!r}")
        if not (isinstance(max_chars, int) and 20 <= max_chars <= TWEET_MAX_WEIGHT):
            raise GenerationError(f"max_chars must be a whole number from 20 to {TWEET_MAX_WEIGHT}, got {max_chars!r}")
        seed = secrets.randbits(62) if request.seed is None else request.seed
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise GenerationError(f"seed must be a whole number >= 0, got {seed!r}")
        rng = torch.Generator().manual_seed(seed)
        strategy = d.prompt if request.prompt_strategy is None else request.prompt_strategy
        if strategy not in PROMPT_STRATEGIES:
            raise GenerationError(f"prompt_strategy must be one of {', '.join(PROMPT_STRATEGIES)}, got {strategy!r}")
        if request.prompt is not None:
            fixed_prompt = self._encode_prompt(request.prompt)
        else:
            fixed_prompt = None if strategy == "familiar" else []
        return _Plan(self, rng, fixed_prompt, float(temperature), float(top_p), max_chars)

    def _encode_prompt(self, prompt: str) -> list[int]:
        if not isinstance(prompt, str):
            raise GenerationError(f"prompt must be text, got {type(prompt).__name__}")
        if not prompt.strip():
            return []
        ids = self.tokenizer.encode(prompt.strip())
        if self.constraint is not None:
            unknown = self.constraint.unknown_words(self.tokenizer.split(prompt))
        else:
            unknown = [word for word in split_words(prompt) if self.tokenizer.encode(word) == [self.tokenizer.unk_id]]
        if unknown or self.tokenizer.unk_id in ids:
            shown = ", ".join(repr(w) for w in unknown) or "some words"
            raise GenerationError(f"prompt has words the model never saw ({shown}); use words from the corpus")
        if len(ids) > self.model.config.block_size // 2:
            raise GenerationError(
                f"prompt is too long ({len(ids)} tokens, at most {self.model.config.block_size // 2})"
            )
        return ids

    def familiar_prompt(self, rng: torch.Generator) -> list[int]:
        """A frequent corpus word to start with, drawn by frequency (the old bot's legibility trick)."""
        if len(self._familiar_ids) == 0:
            return []
        draw = float(torch.rand(1, generator=rng, dtype=torch.float64)) * float(self._familiar_cumulative[-1])
        position = int(torch.searchsorted(self._familiar_cumulative, torch.tensor([draw], dtype=torch.float64)))
        return self._familiar_ids[min(position, len(self._familiar_ids) - 1)]

    @torch.inference_mode()
    def _decode(self, rows: list[_Row]) -> list[Draft]:
        """Decode all rows together with one key/value cache; a row leaves the batch at `</s>`."""
        if not rows:
            return []
        model, tok, device = self.model, self.tokenizer, self.device
        block = model.config.block_size
        count = len(rows)
        uniforms = torch.stack([row.uniforms for row in rows]).to(device)
        temperature = torch.tensor([row.temperature for row in rows], device=device)
        top_p = torch.tensor([row.top_p for row in rows], device=device)
        char_budget = torch.tensor([row.max_chars for row in rows], dtype=torch.long)
        forced = torch.full((count, block), -1, dtype=torch.long)
        for i, row in enumerate(rows):
            forced[i, : len(row.forced)] = torch.tensor(row.forced, dtype=torch.long)
        forced = forced.to(device)
        out = torch.full((count, block), tok.pad_id, dtype=torch.long)
        chars = torch.zeros(count, dtype=torch.long)
        lengths = torch.zeros(count, dtype=torch.long)
        ended = torch.zeros(count, dtype=torch.bool)  # reached </s>
        running = torch.ones(count, dtype=torch.bool)  # neither ended nor over its character budget
        live = torch.arange(count)  # original row of each batch position
        spelled = [""] * count  # under a word constraint: the word each row is spelling
        cache = model.new_cache(count)
        inputs = torch.full((count, 1), tok.bos_id, dtype=torch.long, device=device)
        for step in range(block - 1):
            logits = model.decode(inputs, cache).float()
            if step == 0:
                logits[:, self._non_openers] = -math.inf
            if self.constraint is not None:
                prompt_ended = ((forced[:, step] < 0) & (forced[:, step - 1] >= 0)).tolist() if step else []
                masks = [
                    self.constraint.between_words if step and prompt_ended[i] else self.constraint.allowed(spelled[row])
                    for i, row in enumerate(live.tolist())
                ]
                logits.masked_fill_(~torch.stack(masks).to(device), -math.inf)
            chosen = self._choose(logits, temperature, top_p, uniforms[:, step])
            must = forced[:, step]
            chosen = torch.where(must >= 0, must, chosen).cpu()
            rows_on = live[running[live]]  # finished rows may still sit in the batch until the next compaction
            chosen_on = chosen[running[live]]
            out[rows_on, step] = chosen_on
            lengths[rows_on] = step + 1
            chars[rows_on] += self._token_chars[chosen_on]
            if self.constraint is not None:
                for row, token in zip(rows_on.tolist(), chosen_on.tolist(), strict=True):
                    spelled[row] = self.constraint.advance(spelled[row], token)
            done = chosen_on == tok.eos_id
            ended[rows_on[done]] = True
            running[rows_on[done | (chars[rows_on] > char_budget[rows_on])]] = False
            still = running[live]
            remaining = int(still.sum())
            if remaining == 0:
                break
            # Dropping rows copies the cache, so wait until an eighth of the batch has finished.
            if (len(live) - remaining) * 8 >= len(live):
                keep = still.nonzero().squeeze(1)
                live = live[keep]
                keep_device = keep.to(device)
                cache.keep_rows(keep_device)
                chosen, uniforms = chosen[keep], uniforms[keep_device]
                temperature, top_p, forced = temperature[keep_device], top_p[keep_device], forced[keep_device]
            inputs = chosen.to(device).unsqueeze(1)
        drafts = []
        for i in range(count):
            ids = out[i, : int(lengths[i])].tolist()
            if self.constraint is not None and not ended[i]:
                ids = self.constraint.whole_words(ids)
            text = tok.decode(ids)
            problem = None if ended[i] else "too_long"
            problem = problem or self._problem(text, rows[i].max_chars)
            drafts.append(Draft(text, problem, len(ids)))
        return drafts

    def _choose(
        self, logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor, uniform: torch.Tensor
    ) -> torch.Tensor:
        """Sample one token per row: temperature, top-k, then nucleus (top-p), by inverse CDF of `uniform`."""
        logits[:, self._banned] = -math.inf  # <unk> and the padding/start tokens are never written
        logits = logits / temperature[:, None]
        k = min(self.defaults.top_k or logits.size(1), logits.size(1))
        values, indices = torch.topk(logits, k, dim=1)
        probs = torch.softmax(values, dim=1)
        before = probs.cumsum(dim=1) - probs
        probs = probs.masked_fill(before >= top_p[:, None], 0.0)  # the top token always stays
        cumulative = probs.cumsum(dim=1)
        targets = (uniform * cumulative[:, -1]).unsqueeze(1)
        picks = torch.searchsorted(cumulative, targets, right=True).clamp_(max=k - 1)
        return indices.gather(1, picks).squeeze(1)

    def _problem(self, text: str, max_chars: int) -> str | None:
        d = self.defaults
        problem = shape_problem(text, min_words=d.min_words, max_words=d.max_words, max_chars=max_chars)
        if problem is None and _REPEATED_WORD.search(text):
            problem = "repeated_word"
        if problem is None and article_mismatch(text, self.novelty.bigrams):
            problem = "article"
        return problem or self.novelty.problem(text, d.near_copy_ratio)


class _Plan:
    """A request's fixed settings and its own random stream, turned into a decoding row per attempt."""

    def __init__(
        self,
        owner: Generator,
        rng: torch.Generator,
        fixed_prompt: list[int] | None,
        temperature: float,
        top_p: float,
        max_chars: int,
    ) -> None:
        self.owner = owner
        self.rng = rng
        self.fixed_prompt = fixed_prompt
        self.temperature, self.top_p, self.max_chars = temperature, top_p, max_chars

    def next_row(self) -> _Row:
        prompt = self.fixed_prompt if self.fixed_prompt is not None else self.owner.familiar_prompt(self.rng)
        steps = self.owner.model.config.block_size
        uniforms = torch.rand(steps, generator=self.rng, dtype=torch.float32)
        return _Row(prompt, uniforms, self.temperature, self.top_p, self.max_chars)


def read_familiar_words(
    path: Path, tokenizer: AnyTokenizer, vocabulary: frozenset[str] | None = None
) -> list[tuple[list[int], int]]:
    """(token ids, count) of words.txt entries that can open a sentence: their capitalised form is a corpus word.

    A word-level tokenizer knows its words; a sub-word one spells any word, so `vocabulary` says which are real.
    """
    familiar: Counter[tuple[int, ...]] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        word, _, count = line.partition("\t")
        word = word.strip()
        opening = word[:1].upper() + word[1:]
        ids = tuple(tokenizer.encode(opening)) if opening[:1].isupper() else ()
        real = vocabulary is None or opening in vocabulary
        if real and ids and tokenizer.unk_id not in ids and tokenizer.words_of(ids) == [opening]:
            familiar[ids] += int(count) if count.strip().isdigit() else 1
    return [(list(ids), count) for ids, count in familiar.most_common()]
