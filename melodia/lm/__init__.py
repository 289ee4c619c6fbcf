"""The language model and what draws from it: the LSTM (`model`) and its file (`modelfile`), training and
fine-tuning (`train`, `finetune`, `learn`), scoring (`evaluate`, `ngram`), the sampler and the request a user
makes of it (`sampler`, `constraints`, `controls`, `form`), the redraw loop (`draw`), and what a user calls:
`generation.generate`, `infill.infill` and whole tunes (`tunes`); a taste model of the melodies a user marked
(`taste`) and a benchmark helper (`bench`)."""
