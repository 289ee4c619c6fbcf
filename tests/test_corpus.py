"""Corpus recipes, the incremental parallel build, and augmentation over the cache (through a
small dataset kept here: training itself streams with `melodia.lm.train.EpochStreams`)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import DATA, MUSIC21, REAL_MIDI
from torch.utils.data import DataLoader

from melodia import MelodiaError, ReadError
from melodia.corpus import RecipeError, build_corpus, find_recipe, load_recipe
from melodia.corpus.dataset import Augmentation, PitchMap, augment
from melodia.corpus.reader import Corpus, CorpusError, format_stats
from melodia.tokenizers import BOS, EOS, PAD

BELLE = MUSIC21 / "corpus" / "ryansMammoth" / "BelleOfBostonReel.abc"  # AABB with first and second endings


class TokenDataset(torch.utils.data.Dataset[torch.Tensor]):
    """Examples from one split: windows of `window + 1` tokens of the pieces laid end to end, or
    (without `window`) whole pieces; augmentation drawn from (seed, epoch, index)."""

    def __init__(self, corpus: Corpus, split: str, window: int | None = 256,
                 augmentation: Augmentation | None = None, seed: int = 0) -> None:
        self.window, self.augmentation, self.seed, self.epoch = window, augmentation or Augmentation(), seed, 0
        self.pitch_map = PitchMap(corpus.tokenizer)
        pieces = [corpus.piece_tokens(piece) for piece in corpus.split(split)]
        self.stream = np.concatenate(pieces).astype(np.int64)
        self.pitched = self.pitch_map.pitched(self.stream)
        self.starts = np.cumsum([0] + [len(tokens) for tokens in pieces])

    def __len__(self) -> int:
        return (len(self.stream) - 1) // self.window if self.window else len(self.starts) - 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        start, stop = ((index * self.window, (index + 1) * self.window + 1) if self.window
                       else (int(self.starts[index]), int(self.starts[index + 1])))
        tokens = self.stream[start:stop]
        if self.augmentation.transpose or self.augmentation.tempo_levels:
            tokens = augment(tokens, self.pitched[start:stop], self.pitch_map, self.augmentation,
                             np.random.default_rng((self.seed, self.epoch, index)))
        return torch.from_numpy(np.ascontiguousarray(tokens))


def pad_pieces(batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole pieces padded with PAD into one (batch, longest) tensor, and their lengths."""
    lengths = torch.tensor([len(piece) for piece in batch])
    padded = torch.full((len(batch), int(lengths.max())), PAD, dtype=torch.long)
    for row, piece in enumerate(batch):
        padded[row, :len(piece)] = piece
    return padded, lengths


def make_loader(dataset: TokenDataset, batch_size: int, shuffle: bool = True, seed: int = 0) -> DataLoader:
    """Stacked windows, or padded pieces with their lengths."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed),
                      collate_fn=None if dataset.window else pad_pieces, drop_last=bool(dataset.window) and shuffle)


@pytest.fixture(scope="module")
def music_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real MIDI files, the fixtures (broken ones included), an ABC file of two tunes and a Humdrum file."""
    folder = tmp_path_factory.mktemp("music") / "mine"
    folder.mkdir()
    for path in [*REAL_MIDI[:12], *DATA.glob("*.mid"), DATA / "tune.abc", DATA / "chorale.krn", BELLE]:
        shutil.copy(path, folder / path.name)
    (folder / "notes.txt").write_text("not music, not picked up")
    return folder


@pytest.fixture(scope="module")
def built(music_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cache") / "mine"
    build_corpus(find_recipe(str(music_folder)), workers=1, progress=False, folder=target)
    return target


def test_named_recipes_load() -> None:
    for name in ("folk", "chorales", "jsb"):
        recipe = find_recipe(name)
        assert recipe.name == name and recipe.sources
    assert find_recipe("folk").tokenizer.melody
    assert {s.collection for s in find_recipe("folk").sources} == {"essen", "oneills", "airds", "ryans"}


def test_recipe_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[sources]]\nfolder = "."\n[tokenizer]\ngrid = 4\n')
    with pytest.raises(MelodiaError, match=r"bad\.toml: \[tokenizer\]: unknown field 'grid'"):
        load_recipe(bad)
    bad.write_text('name = "x"\n[[sources]]\nfolder = "."\n[split]\nvalid = 0.7\ntest = 0.5\n')
    with pytest.raises(RecipeError, match=r"valid = 0\.7, test = 0\.5"):
        load_recipe(bad)
    bad.write_text('name = "x"\n[[sources]]\nfolder = "nowhere"\n')
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="not a corpus name"):
        find_recipe("no-such-corpus")


def test_build_report_and_index(built: Path) -> None:
    corpus = Corpus.open(built)
    report = (built / "report.txt").read_text()
    for broken in ("not_midi.mid", "corrupt_truncated.mid", "zero_division.mid", "absurd_ticks.mid"):
        assert f"skipped mine/{broken}" in report
    assert "skipped mine/empty.mid: no notes" in report
    assert "altered mine/overlapping.mid" in report and "never switched off" in report
    titles = {p["title"] for p in corpus.pieces}
    assert {"Test Jig", "Test Reel With Pickup"} <= titles
    jig = next(p for p in corpus.pieces if p["title"] == "Test Jig")
    assert jig["meter"] == "6/8" and jig["key"] == "D major" and jig["key_source"] == "given"
    assert {p["split"] for p in corpus.pieces} <= {"train", "valid", "test"}
    for piece in corpus.pieces:
        tokens = corpus.piece_tokens(piece)
        assert tokens[0] == BOS and tokens[-1] == EOS and len(tokens) == piece["tokens"]
        assert corpus.tokenizer.check(tokens) == []


def test_build_is_identical_for_any_worker_count_and_incremental(music_folder: Path, built: Path,
                                                                  tmp_path: Path) -> None:
    recipe = find_recipe(str(music_folder))
    two = build_corpus(recipe, workers=2, progress=False, folder=tmp_path / "two")
    assert two.files_parsed > 10 and not two.up_to_date
    for name in ("tokens.u16", "index.json", "report.txt", "tokenizer.json"):
        assert (tmp_path / "two" / name).read_bytes() == (built / name).read_bytes(), name
    again = build_corpus(recipe, workers=2, progress=False, folder=tmp_path / "two")
    assert again.up_to_date and again.files_parsed == 0
    # change one file: only it is parsed again
    changed = music_folder / "waltz_3_4.mid"
    original = changed.read_bytes()
    try:
        shutil.copy(DATA / "jig_6_8.mid", changed)
        third = build_corpus(find_recipe(str(music_folder)), workers=1, progress=False, folder=tmp_path / "two")
        assert third.files_parsed == 1 and third.files_cached == two.files_parsed - 1
    finally:
        changed.write_bytes(original)


def test_a_tight_music21_budget_gives_the_same_corpus(music_folder: Path, built: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow or busy machine is a tight budget: the pieces refused at first are tried again."""
    import music21

    import melodia.io.music21 as music21_reader

    parse = music21.converter.parse

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        """music21 on a slow machine: 20 ms of CPU before each parse, so that the tight budget refuses even a
        piece music21 has cached (a timer that short fires only once the CPU clock ticks on)."""
        end = time.process_time() + 0.02
        while time.process_time() < end:
            pass
        return parse(*args, **kwargs)

    monkeypatch.setattr(music21.converter, "parse", slow_parse)
    monkeypatch.setattr(music21_reader, "PARSE_SECONDS", 1e-6)
    monkeypatch.setattr(music21_reader, "PARSE_BYTES_PER_SECOND", 10**15)
    with pytest.raises(ReadError, match="refused as too complex"):  # the budget does refuse a first try
        music21_reader.read_music21_pieces(DATA / "tune.abc")
    build_corpus(find_recipe(str(music_folder)), workers=1, progress=False, folder=tmp_path / "tight")
    for name in ("tokens.u16", "index.json", "report.txt"):
        assert (tmp_path / "tight" / name).read_bytes() == (built / name).read_bytes(), name
    assert "too complex" not in (built / "report.txt").read_text()


def test_exact_duplicates_share_a_split(tmp_path: Path) -> None:
    folder = tmp_path / "dups"
    folder.mkdir()
    for copy in range(12):
        shutil.copy(DATA / "jig_6_8.mid", folder / f"copy{copy}.mid")
    for path in REAL_MIDI[:10]:
        shutil.copy(path, folder / path.name)
    build_corpus(find_recipe(str(folder)), workers=1, progress=False, folder=tmp_path / "cache")
    corpus = Corpus.open(tmp_path / "cache")
    copies = [p for p in corpus.pieces if p["source"].startswith("dups/copy")]
    assert len(copies) == 12 and len({p["split"] for p in copies}) == 1
    assert corpus.stats()["duplicates"] >= 11


def test_stats(built: Path) -> None:
    stats = Corpus.open(built).stats()
    assert stats["pieces"] == sum(s["pieces"] for s in stats["splits"].values())
    assert stats["tokens"] == sum(s["tokens"] for s in stats["splits"].values())
    assert 0 < stats["vocabulary_used"] <= stats["vocabulary"]
    assert stats["built"]["mine"]["skipped"] >= 5
    # read as played: the jig of tune.abc repeats its one strain; Belle of Boston has first and second endings
    assert (stats["with_repeats"], stats["with_endings"]) == (2, 1)
    assert "form: 2 pieces with repeats, 1 with first and second endings (read as played)" in format_stats(stats)
    forms = {p["title"]: (p["form"], p["repeats"], p["endings"]) for p in Corpus.open(built).pieces}
    assert forms["Test Jig"] == ("AA", True, False) and forms["Test Reel With Pickup"] == ("", False, False)
    assert forms["Belle of Boston -- Reel"] == ("AABB", True, True)


def test_unbuilt_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no corpus built here; run: melodia corpus build"):
        Corpus(tmp_path)


def test_window_dataset_marks_piece_boundaries(built: Path) -> None:
    corpus = Corpus.open(built)
    dataset = TokenDataset(corpus, "train", window=64)
    stream = np.concatenate([corpus.piece_tokens(p) for p in corpus.split("train")])
    assert len(dataset) == (len(stream) - 1) // 64
    first = dataset[0]
    assert first.dtype == torch.long and len(first) == 65
    assert first[0] == BOS and torch.equal(first, torch.from_numpy(stream[:65].astype(np.int64)))
    assert (stream == EOS).sum() == len(corpus.split("train"))
    batch = next(iter(make_loader(dataset, batch_size=4, seed=1)))
    assert batch.shape == (4, 65)


def test_piece_dataset_pads(built: Path) -> None:
    corpus = Corpus.open(built)
    dataset = TokenDataset(corpus, "train", window=None)
    padded, lengths = next(iter(make_loader(dataset, batch_size=3, shuffle=False)))
    assert padded.shape == (3, int(lengths.max()))
    assert all(padded[row, 0] == BOS and padded[row, lengths[row] - 1] == EOS for row in range(3))


def test_transposition_keeps_notes_in_range_and_drums_still(built: Path) -> None:
    corpus = Corpus.open(built)
    tokenizer = corpus.tokenizer
    pitch_map = PitchMap(tokenizer)
    drums = next(p for p in corpus.pieces if p["id"] == "mine/drums.mid")
    tokens = corpus.piece_tokens(drums).astype(np.int64)
    pitched = pitch_map.pitched(tokens)
    original = tokenizer.decode(tokens)
    seen = set()
    for seed in range(20):
        moved = augment(tokens, pitched, pitch_map, Augmentation(transpose=6), np.random.default_rng(seed))
        assert tokenizer.check(moved) == []
        score = tokenizer.decode(moved)
        shift = score.tracks[0].notes[0].pitch - original.tracks[0].notes[0].pitch
        seen.add(shift)
        assert [n.pitch - shift for n in score.tracks[0].notes] == [n.pitch for n in original.tracks[0].notes]
        assert score.tracks[1].is_drum and score.tracks[1].notes == original.tracks[1].notes
    assert len(seen) > 5 and max(abs(s) for s in seen) <= 6


def test_transposition_never_leaves_the_pitch_range(built: Path) -> None:
    corpus = Corpus.open(built)
    pitch_map = PitchMap(corpus.tokenizer)
    pitch_map.low, pitch_map.high = 60, 72  # a narrow range: the only legal shifts are small
    tokens = corpus.tokenizer.to_ids(["BOS", "TimeSig_4/4", "Tempo_120.0", "Bar", "Position_0", "Program_0",
                                      "Pitch_62", "Velocity_72", "Duration_12", "Pitch_70", "Velocity_72",
                                      "Duration_12", "EOS"]).astype(np.int64)
    for seed in range(30):
        moved = augment(tokens, pitch_map.pitched(tokens), pitch_map, Augmentation(transpose=12),
                        np.random.default_rng(seed))
        pitches = pitch_map.pitch_of[moved][pitch_map.pitch_of[moved] >= 0]
        assert pitches.min() >= 60 and pitches.max() <= 72


def test_augmentation_is_reproducible_and_changes_by_epoch(built: Path) -> None:
    corpus = Corpus.open(built)
    dataset = TokenDataset(corpus, "train", window=64, augmentation=Augmentation(transpose=5, tempo_levels=2), seed=3)
    assert torch.equal(dataset[1], dataset[1])
    draws = set()
    for epoch in range(6):
        dataset.set_epoch(epoch)
        draws.add(tuple(dataset[1].tolist()))
    assert len(draws) > 1
