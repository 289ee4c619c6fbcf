"""Training corpora: recipes, the cache builder, and reading a built corpus."""

from melodia.corpus.build import BuildResult, build_corpus, cache_root, corpus_folder
from melodia.corpus.recipe import Recipe, RecipeError, corpus_names, find_recipe, load_recipe

__all__ = [
    "BuildResult",
    "Recipe",
    "RecipeError",
    "build_corpus",
    "cache_root",
    "corpus_folder",
    "corpus_names",
    "find_recipe",
    "load_recipe",
]
