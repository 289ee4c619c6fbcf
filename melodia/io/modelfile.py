"""The old place of `melodia.modelfile`, kept while scripts/report_default.py and tests/test_form.py import
from here; new code imports `melodia.modelfile`."""

from melodia.modelfile import DEFAULT_MODEL, ModelFileError, load_model, model_path, save_model

__all__ = ["DEFAULT_MODEL", "ModelFileError", "load_model", "model_path", "save_model"]
