"""Measure what reading hostile and largest-allowed uploads costs: peak memory and seconds.

    .venv/bin/python scripts/reader_memory.py [--only CASE ...] [--keep DIR]

Every file is built in a temporary folder, then read by ``read_document`` with the limits of the
default settings in a fresh Python process, so each peak belongs to one file alone. The peak is
the process's VmHWM from /proc (resource ``ru_maxrss`` where there is no /proc): on Linux
ru_maxrss survives fork and exec, so a child of this script would report the script's own peak.
"above imports" is the peak minus the same process's peak after importing the readers and their
parsers (python-docx, pdfplumber, trafilatura, lxml): what the reading itself cost.

Cases: a .docx zip bomb whose directory lies about its size (the issue's 2.19 GB case), an
honest zip bomb, a .docx whose directory holds hundreds of thousands of entries, the largest
.docx the limits let through, a PDF at and one past the page limit, an HTML page at and one past
the character limit, and a small text file as the baseline.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import load_settings
from assistant.ingest.readers import ReaderLimits

LIMITS = ReaderLimits.from_settings(load_settings())
CORPUS_TEXT = "".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "corpus").glob("*.txt")))
CORPUS_LINES = [line.strip() for line in CORPUS_TEXT.splitlines() if line.strip()]
MIB = 1 << 20
BOMB_MIB = 2048  # the size of the reported bomb: 2 GiB of zeros in about 2 MB
DIRECTORY_ENTRIES = 200_000  # empty members: a 20 MB zip's directory can hold about this many
PAGE_LINES = 30  # lines of text per PDF page, about a full page of a government document
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

CHILD = """
import json, resource, sys, time
from pathlib import Path
from assistant.config import load_settings
from assistant.ingest.readers import DocumentRejected, ReaderLimits, read_document
import docx, pdfplumber, trafilatura, lxml.html  # loaded before the baseline is taken

def peak_kb():
    # Linux carries ru_maxrss over fork and exec, so a child of a big parent would report the
    # parent's peak; VmHWM belongs to this process's own memory map alone.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

limits = ReaderLimits.from_settings(load_settings())
baseline = peak_kb()
started = time.perf_counter()
try:
    result = read_document(Path(sys.argv[1]), limits)
    outcome = f"read as {result.kind}, {len(result.text):,} chars"
except DocumentRejected as exc:
    outcome = "refused: " + exc.reason_en
seconds = time.perf_counter() - started
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_kb": peak_kb(), "baseline_kb": baseline}))
"""


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------


def _docx_skeleton() -> list[tuple[str, bytes]]:
    import docx

    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("政务公开工作要点")
    document.save(buffer)
    with zipfile.ZipFile(buffer) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _deflate(content: bytes) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflater.compress(content) + deflater.flush()


def _raw_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> None:
    """Write a deflated zip from (name, deflate stream, CRC-32, declared size) as given."""
    central: list[bytes] = []
    with path.open("wb") as out:
        for name, payload, crc, declared in members:
            offset = out.tell()
            encoded = name.encode("utf-8")
            out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(payload), declared,
                                  len(encoded), 0) + encoded + payload)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(payload),
                                       declared, len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
        directory = b"".join(central)
        start = out.tell()
        out.write(directory)
        count = min(len(members), 0xFFFF)  # the end record's count is 16-bit; zipfile does not rely on it
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0))


def _skeleton_members(skip: str = "word/document.xml") -> list[tuple[str, bytes, int, int]]:
    return [(name, _deflate(content), zlib.crc32(content), len(content))
            for name, content in _docx_skeleton() if name != skip]


def _zeros_stream(mebibytes: int) -> tuple[bytes, int]:
    # After a full flush the deflater keeps no history, so each MiB compresses to the same bytes.
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(MIB)
    block = deflater.compress(zeros) + deflater.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    return block * mebibytes + deflater.flush(), crc


def build_lying_bomb(path: Path) -> None:
    stream, crc = _zeros_stream(BOMB_MIB)
    _raw_zip(path, [*_skeleton_members(), ("word/document.xml", stream, crc, 4_096)])


def build_honest_bomb(path: Path) -> None:
    stream, crc = _zeros_stream(BOMB_MIB)
    _raw_zip(path, [*_skeleton_members(), ("word/document.xml", stream, crc, (BOMB_MIB * MIB) & 0xFFFFFFFF)])


def build_crowded_directory(path: Path) -> None:
    empty = _deflate(b"")
    members = [*_skeleton_members(skip=""), *((f"m/{i}", empty, 0, 0) for i in range(DIRECTORY_ENTRIES))]
    _raw_zip(path, members)


def _run_xml(text: str) -> str:
    # Word writes the font and size on every run, so real document.xml is mostly markup.
    return ('<w:r><w:rPr><w:rFonts w:ascii="仿宋_GB2312" w:eastAsia="仿宋_GB2312" w:hAnsi="仿宋_GB2312"/>'
            f'<w:sz w:val="32"/><w:szCs w:val="32"/></w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>')


def build_largest_docx(path: Path) -> None:
    """As much corpus text as fits under both max_unpacked_bytes and max_text_chars."""
    skeleton = _docx_skeleton()
    others = sum(len(content) for name, content in skeleton if name != "word/document.xml")
    budget = LIMITS.max_unpacked_bytes - others - 4_096  # the XML head and tail
    chars_budget = LIMITS.max_text_chars * 9 // 10  # paragraph breaks are added to the text too
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{W_NS}"><w:body>'
    tail = "</w:body></w:document>"
    paragraphs: list[str] = []
    size = chars = 0
    index = 0
    while True:
        line = CORPUS_LINES[index % len(CORPUS_LINES)]
        index += 1
        runs = "".join(_run_xml(line[i:i + 12]) for i in range(0, len(line), 12))
        paragraph = f"<w:p>{runs}</w:p>"
        if size + len(paragraph.encode("utf-8")) > budget or chars + len(line) > chars_budget:
            break
        paragraphs.append(paragraph)
        size += len(paragraph.encode("utf-8"))
        chars += len(line)
    document = (head + "".join(paragraphs) + tail).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in skeleton:
            zf.writestr(name, document if name == "word/document.xml" else content)


def _build_pdf(path: Path, pages: int) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    index = 0
    for page in range(1, pages + 1):
        c.setFont("STSong-Light", 12)
        for row in range(PAGE_LINES):
            line = CORPUS_LINES[index % len(CORPUS_LINES)][:38]
            index += 1
            c.drawString(60, 780 - 24 * row, line)
        c.drawCentredString(300, 30, f"- {page} -")
        c.showPage()
    c.save()


def build_pdf_at_limit(path: Path) -> None:
    _build_pdf(path, LIMITS.max_pdf_pages)


def build_pdf_past_limit(path: Path) -> None:
    _build_pdf(path, LIMITS.max_pdf_pages + 1)


def _html(chars: int) -> str:
    head = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>政务公开</title></head><body><div id=\"zoom\">"
    tail = "</div></body></html>"
    parts = [head]
    size = len(head) + len(tail)
    index = 0
    while True:
        # Numbered so no two paragraphs are alike: a parser may fold repeats away.
        paragraph = f"<p>{index}. {CORPUS_LINES[index % len(CORPUS_LINES)]}</p>\n"
        index += 1
        if size + len(paragraph) > chars:
            break
        parts.append(paragraph)
        size += len(paragraph)
    parts.append(tail)
    parts.append("x" * (chars - size))  # trailing text to land exactly on `chars`
    return "".join(parts)


def build_html_at_limit(path: Path) -> None:
    path.write_text(_html(LIMITS.max_text_chars), encoding="utf-8")


def build_html_past_limit(path: Path) -> None:
    path.write_text(_html(LIMITS.max_text_chars + 1), encoding="utf-8")


def build_baseline(path: Path) -> None:
    path.write_text(CORPUS_TEXT, encoding="utf-8")


CASES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "baseline-text": ("baseline.txt", build_baseline),
    "docx-bomb-lying": ("bomb-lying.docx", build_lying_bomb),
    "docx-bomb-honest": ("bomb-honest.docx", build_honest_bomb),
    "docx-crowded-directory": ("crowded.docx", build_crowded_directory),
    "docx-largest-allowed": ("largest.docx", build_largest_docx),
    "pdf-at-page-limit": ("pages-at-limit.pdf", build_pdf_at_limit),
    "pdf-past-page-limit": ("pages-past-limit.pdf", build_pdf_past_limit),
    "html-at-char-limit": ("at-limit.html", build_html_at_limit),
    "html-past-char-limit": ("past-limit.html", build_html_past_limit),
}


def _unpacked(path: Path) -> str:
    if path.suffix != ".docx":
        return ""
    with zipfile.ZipFile(path) as zf:
        real = sum(info.file_size for info in zf.infolist())
    return f", {real / 1e6:.1f} MB unpacked"


def measure(name: str, folder: Path) -> dict[str, object]:
    filename, build = CASES[name]
    path = folder / filename
    if not path.exists():
        build(path)
    completed = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                               check=False)
    if completed.returncode != 0:
        return {"case": name, "file": f"{path.stat().st_size / 1e6:.2f} MB", "outcome": "CRASHED: " +
                completed.stderr.strip().splitlines()[-1], "seconds": 0.0, "peak_kb": 0, "baseline_kb": 0}
    row = json.loads(completed.stdout.strip().splitlines()[-1])
    size = path.stat().st_size
    row.update(case=name, file=f"{size / 1e6:.2f} MB" + (_unpacked(path) if name == "docx-largest-allowed" else ""))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), help="measure these cases only")
    parser.add_argument("--keep", type=Path, help="build the files here and keep them (reused when present)")
    args = parser.parse_args()
    names = args.only or list(CASES)
    print(f"limits: {LIMITS}")
    print(f"{'case':<24} {'peak RSS':>9} {'above imports':>14} {'seconds':>8}  file / outcome")
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            row = measure(name, folder)
            peak, baseline = int(row["peak_kb"]), int(row["baseline_kb"])
            print(f"{name:<24} {peak / 1024:>6.0f} MB {(peak - baseline) / 1024:>11.0f} MB {row['seconds']:>8.2f}  "
                  f"{row['file']} / {row['outcome']}", flush=True)


if __name__ == "__main__":
    main()
