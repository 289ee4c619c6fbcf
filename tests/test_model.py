"""The language model (melodia/lm/model.py): shapes, tied weights, the cells it accepts."""

from __future__ import annotations

import pytest
import torch

from melodia.lm.model import MelodyLM, ModelConfig, ModelConfigError


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_model_shapes_and_tied_weights(cell: str) -> None:
    config = ModelConfig(100, embedding_size=16, hidden_size=24, layers=2, cell=cell,
                         conditions={"meter": ["unknown", "3/4", "4/4"]})
    model = MelodyLM(config)
    logits, state = model(torch.randint(0, 100, (3, 7)), None, torch.tensor([[1], [2], [0]]))
    assert logits.shape == (3, 7, 100)
    assert model.decoder.weight is model.embedding.weight
    logits, _ = model(torch.randint(0, 100, (3, 5)), state, torch.ones((3, 5, 1), dtype=torch.long))
    assert logits.shape == (3, 5, 100)
    with pytest.raises(ModelConfigError, match="cell = 'transformer'"):
        ModelConfig(100, cell="transformer")
