"""Sampling (melodia/lm/sampler.py): grammar-safe samples, the fast stepper, sampling settings, beam search and the
repetition penalty, with small untrained models and the shipped one."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import MELODY, untrained

from melodia.lm.generation import Constraints, generate
from melodia.lm.model import MelodyLM, ModelConfig
from melodia.lm.sampler import SamplingConfig, sample
from melodia.tokenizers import BOS, TokenizerConfig, tokenizer_from_config


@pytest.mark.parametrize("config", [
    TokenizerConfig(melody=True, velocity_bins=1, pitch_range=(36, 96)),
    TokenizerConfig(),
    TokenizerConfig(scheme="performance"),
], ids=["metrical-melody", "metrical", "performance"])
def test_thousands_of_untrained_samples_all_decode_and_pass_check(config: TokenizerConfig) -> None:
    tokenizer = tokenizer_from_config(config)
    model = untrained(tokenizer)
    sequences = sample(model, tokenizer, [BOS], 1000, SamplingConfig(max_tokens=120),
                       torch.Generator().manual_seed(0))
    failures = [s for s in sequences if tokenizer.check(s, complete=False)]
    assert len(sequences) == 1000 and not failures
    for tokens in sequences:
        tokenizer.decode(tokens).validate()


def test_fast_stepper_matches_the_model() -> None:
    from melodia.lm.sampler import Stepper

    torch.manual_seed(0)
    model = MelodyLM(ModelConfig(len(MELODY), 32, 48, 2)).eval()
    tokens = torch.randint(3, len(MELODY), (5, 7))
    with torch.no_grad():
        expected, _ = model(tokens)
        _, state = model(tokens[:, :6])
        logits, _ = Stepper(model)(tokens[:, 6], state)
    assert torch.allclose(logits, expected[:, 6], atol=1e-5)


BAD_SAMPLING = [
    ({"temperature": 0}, "temperature = 0: expected a number > 0 (0 is not greedy decoding; for the likeliest"),
    ({"temperature": -1.0}, "temperature = -1.0: expected a number > 0"),
    ({"temperature": float("nan")}, "temperature = nan: expected a number > 0"),
    ({"top_p": 2}, "top_p = 2: expected a number in (0, 1]"),
    ({"top_p": 0.0}, "top_p = 0.0: expected a number in (0, 1]"),
    ({"top_k": -1}, "top_k = -1: expected a whole number >= 0"),
    ({"top_k": 2.5}, "top_k = 2.5: expected a whole number >= 0"),
    ({"repetition_penalty": 0}, "repetition_penalty = 0: expected a number > 0"),
    ({"repetition_window": 0}, "repetition_window = 0: expected a whole number >= 1"),
    ({"max_tokens": 15}, "max_tokens = 15: expected a whole number >= 16"),
    ({"beam_size": -1}, "beam_size = -1: expected a whole number >= 0"),
    ({"branch_factor": 0}, "branch_factor = 0: expected a whole number >= 1"),
]


@pytest.mark.parametrize(("settings", "message"), BAD_SAMPLING, ids=[str(s) for s, _ in BAD_SAMPLING])
def test_sampling_settings_outside_their_range_are_refused(settings: dict[str, object], message: str) -> None:
    from melodia.errors import MelodiaError

    with pytest.raises(MelodiaError) as error:
        SamplingConfig(**settings)  # type: ignore[arg-type]
    assert str(error.value).startswith(f"sampling setting {message}") and "\n" not in str(error.value)


def test_sampling_and_beam_search_report_progress_every_step() -> None:
    model = untrained(MELODY)
    calls: list[int] = []
    sequences = sample(model, MELODY, [BOS], 5, SamplingConfig(max_tokens=60), torch.Generator().manual_seed(0),
                       progress=calls.append)
    assert sum(calls) == 5 and len(calls) == max(len(s) for s in sequences) - 1
    calls.clear()
    generate((model, MELODY), "G4 A4 B4 key=G", 2, Constraints(bars=4), SamplingConfig(beam_size=3),
             progress=calls.append)
    assert sum(calls) == 2 and len(calls) > 10


def longest_run(pitches: list[int]) -> int:
    return max(len(list(run)) for _, run in itertools.groupby(pitches))


def test_beam_search_on_the_shipped_model_makes_a_tune_and_heeds_the_repetition_penalty() -> None:
    def lines(sampling: SamplingConfig) -> list[list[int]]:
        scores = generate("default", "C4 D4 E4 key=C", 2, Constraints(bars=8), sampling)
        return [[n.pitch for n in sorted(s.notes, key=lambda n: (n.onset_tick, n.pitch))] for s in scores]

    plain = lines(SamplingConfig(beam_size=4))
    for pitches in plain:  # it used to be G4 over and over
        assert len(set(pitches[3:])) >= 4 and longest_run(pitches) <= 4, pitches
    assert lines(SamplingConfig(beam_size=4, repetition_penalty=1.3)) != plain


def test_a_prompt_that_goes_on_from_one_read_or_drawn_before_is_read_from_there_alike() -> None:
    from melodia.lm.sampler import PromptReader, Row, sample_rows

    torch.manual_seed(0)
    model = MelodyLM(ModelConfig(len(MELODY), 32, 48, 2)).eval()
    drawn = sample_rows(model, MELODY, [Row([BOS])] * 3, SamplingConfig(max_tokens=200),
                        torch.Generator().manual_seed(1))
    ended = [tokens[:-1] for tokens in drawn if tokens[-1] == 2]  # EOS
    assert ended, "an untrained model draws EOS within 200 tokens"
    reader = PromptReader.of(model)
    prompt = [*ended[0], *ended[0][1:40]]  # the drawn sequence, and more after it
    assert PromptReader.keys(ended[0], None)[-1] in reader.states  # kept where the draw ended
    with torch.no_grad():
        expected, _ = model(torch.tensor([prompt]))
    calls: list[int] = []
    model.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[1]))
    with torch.no_grad():
        logits, _ = reader.read(prompt, None, torch.device("cpu"))
    assert sum(calls) == len(prompt) - len(ended[0])  # only the tokens after the drawn ones were read
    assert torch.allclose(logits, expected[:, -1], atol=1e-5)
    calls.clear()
    with torch.no_grad():
        again, _ = reader.read(prompt[:-5], None, torch.device("cpu"))
    assert sum(calls) == len(prompt) - 5 - len(ended[0])  # from the draw's end again, not from the longer prompt
    assert torch.allclose(again, expected[:, -6], atol=1e-5)
