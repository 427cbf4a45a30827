"""assistant.ingest.readers: every format becomes corpus-shaped plain text, or a clear rejection.

The test files are real .docx / .pdf / .html files built here from the corpus text, so what is
checked is what an upload of that document would produce.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from assistant.ingest.readers import DocumentRejected, ReaderLimits, ReadResult, read_document

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
MAX = 20_000_000

QINGPU_ID = "2024-qingpu-baihe"
QINGPU = (CORPUS / f"{QINGPU_ID}.txt").read_text(encoding="utf-8")
QINGPU_LINES = [line.strip() for line in QINGPU.splitlines() if line.strip()]

# The pudong task table: header row + rows 1-4, where 任务名称 of rows 2-4 is merged with row 1.
PUDONG_LINES = (CORPUS / "2024-pudong.txt").read_text(encoding="utf-8").splitlines()
PUDONG_HEADER = next(line for line in PUDONG_LINES if line.startswith("序号\t"))
PUDONG_ROWS = [next(line for line in PUDONG_LINES if line.startswith(f"{n}\t")) for n in (1, 2, 3, 4)]
TABLE_LINES = [PUDONG_HEADER, *PUDONG_ROWS]
TABLE_CELLS = [line.split("\t") for line in TABLE_LINES]

TOP_HEADING_RE = re.compile(r"^([一二三四五六七八九十]+)、")
SUB_HEADING_RE = re.compile(r"^（([一二三四五六七八九十]+)）")
DOC_TITLE = "2024年青浦区白鹤镇政务公开工作要点"
NOTICE_TITLE = next(line for line in QINGPU_LINES if line.endswith("的通知"))

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def read(path: Path, max_bytes: int = MAX) -> ReadResult:
    return read_document(path, max_bytes)


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------


def _w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


def _add_abstract_num(document, abs_id: int, levels: list[tuple[str, str]], num_id: int, start_overrides=None):
    """Add a numbering definition (levels: (numFmt, lvlText)) and a w:num using it."""
    from docx.oxml import parse_xml

    lvls = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/></w:lvl>'
        for i, (fmt, text) in enumerate(levels)
    )
    numbering = document.part.numbering_part.element
    abstract = parse_xml(f'<w:abstractNum xmlns:w="{W_NS}" w:abstractNumId="{abs_id}">{lvls}</w:abstractNum>')
    first_num = numbering.find(_w("num"))
    if first_num is not None:  # schema order: every abstractNum before the first num
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    overrides = "".join(
        f'<w:lvlOverride w:ilvl="{lvl}"><w:startOverride w:val="{start}"/></w:lvlOverride>'
        for lvl, start in (start_overrides or {}).items()
    )
    numbering.append(
        parse_xml(f'<w:num xmlns:w="{W_NS}" w:numId="{num_id}"><w:abstractNumId w:val="{abs_id}"/>{overrides}</w:num>')
    )


def _number(paragraph, num_id: int, ilvl: int) -> None:
    from docx.oxml import parse_xml

    numpr = parse_xml(f'<w:numPr xmlns:w="{W_NS}"><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>')
    paragraph._p.get_or_add_pPr().append(numpr)


def _set_vmerge(cell, restart: bool) -> None:
    from docx.oxml import parse_xml

    value = ' w:val="restart"' if restart else ""
    cell._tc.get_or_add_tcPr().append(parse_xml(f'<w:vMerge xmlns:w="{W_NS}"{value}/>'))


def _add_pudong_table(document) -> None:
    table = document.add_table(rows=len(TABLE_CELLS), cols=len(TABLE_CELLS[0]))
    table.style = "Table Grid"
    for r, cells in enumerate(TABLE_CELLS):
        for c, value in enumerate(cells):
            cell = table.cell(r, c)
            if r >= 2 and c == 1:
                _set_vmerge(cell, restart=False)  # 任务名称 continues row 1's merged cell
                continue
            if r == 1 and c == 1:
                _set_vmerge(cell, restart=True)
            # Long cells as two paragraphs: the reader must join them without a newline.
            head, sep, tail = value.partition("。")
            cell.text = head + sep
            if tail:
                cell.add_paragraph(tail)


def build_qingpu_docx(path: Path, with_table: bool = False) -> Path:
    """qingpu as Word would hold it: 一、/（一） come from automatic numbering, not the text."""
    import docx

    document = docx.Document()
    _add_abstract_num(document, 90, [("chineseCounting", "%1、"), ("chineseCounting", "（%2）")], num_id=90)
    for line in QINGPU_LINES:
        if line == NOTICE_TITLE:
            document.add_heading(line, level=0)
        elif line == DOC_TITLE:
            document.add_heading(line, level=1)
        elif TOP_HEADING_RE.match(line):
            paragraph = document.add_heading(TOP_HEADING_RE.sub("", line), level=2)
            _number(paragraph, 90, 0)
        elif SUB_HEADING_RE.match(line):
            paragraph = document.add_paragraph("　　" + SUB_HEADING_RE.sub("", line))  # indent like Word docs
            _number(paragraph, 90, 1)
        else:
            document.add_paragraph(line)
        if with_table and line.startswith("（一）加强政策制定过程中的公众参与"):
            _add_pudong_table(document)
    document.save(path)
    return path


def build_qingpu_html(path: Path, with_table: bool = False, encoding: str = "utf-8") -> Path:
    """A saved government page: header, menu, nav, breadcrumb, sidebar and footer around the text."""
    body = []
    for line in QINGPU_LINES:
        if line == DOC_TITLE:
            body.append(f"<h1>{line}</h1>")
        elif TOP_HEADING_RE.match(line):
            body.append(f"<h2>{line}</h2>")
        else:
            body.append(f"<p>&nbsp;&nbsp;{line}</p>")
    if with_table:
        rows = []
        for r, cells in enumerate(TABLE_CELLS):
            tag = "th" if r == 0 else "td"
            tds = []
            for c, value in enumerate(cells):
                if c == 1 and r >= 2:
                    continue  # covered by the rowspan
                span = ' rowspan="4"' if (r == 1 and c == 1) else ""
                tds.append(f"<{tag}{span}>{value}</{tag}>")
            rows.append("<tr>" + "".join(tds) + "</tr>")
        body.append('<table border="1" class="rwfj">' + "".join(rows) + "</table>")
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="{encoding}"><title>{DOC_TITLE}_青浦区人民政府</title>
<style>.menu li {{ display: inline; }}</style><script>var _hmt = _hmt || [];</script></head>
<body>
<header class="site-header"><div class="logo">上海市青浦区人民政府</div>
<ul class="menu"><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li><li><a href="/bsfw">办事服务</a></li><li><a href="/hdjl">互动交流</a></li></ul></header>
<nav class="nav"><a href="/">网站首页</a> | <a href="/zjqp">走进青浦</a> | <a href="/zfxxgk">政府信息公开目录</a></nav>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 工作要点</div>
<div class="wrap">
<aside class="sidebar"><h3>热点推荐</h3><ul><li><a href="/a1">青浦区开展防汛防台演练</a></li><li><a href="/a2">白鹤镇召开乡村振兴推进会</a></li></ul></aside>
<article class="article"><div id="zoom" class="TRS_Editor">
{chr(10).join(body)}
</div></article></div>
<footer class="footer"><p>主办单位：上海市青浦区人民政府办公室 版权所有</p>
<p><a href="/map">网站地图</a> | <a href="/contact">联系我们</a> 沪ICP备12345678号</p></footer>
</body></html>"""
    path.write_bytes(page.encode(encoding))
    return path


def _cjk_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    # A built-in CID font: no font file needed, and the text layer maps back to Unicode.
    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


PDF_RUNNING_HEADER = "上海市青浦区白鹤镇人民政府　政务公开专栏"


def build_qingpu_pdf(path: Path, with_table: bool = True) -> Path:
    """qingpu laid out over several pages, with a running header, "- n -" page numbers and
    the pudong task table (ruled, 任务名称 spanning rows 1-4) at the end."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font = _cjk_font()
    body = ParagraphStyle("body", fontName=font, fontSize=14, leading=26, wordWrap="CJK", firstLineIndent=28)

    def decorate(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawCentredString(A4[0] / 2, A4[1] - 40, PDF_RUNNING_HEADER)
        canvas.setFont(font, 11)
        canvas.drawCentredString(A4[0] / 2, 30, f"- {doc.page} -")
        canvas.restoreState()

    story: list = [Paragraph(line, body) for line in QINGPU_LINES]
    if with_table:
        story.append(Spacer(1, 20))
        story.append(_pudong_pdf_table(font))
    SimpleDocTemplate(str(path), pagesize=A4, topMargin=70, bottomMargin=60).build(
        story, onFirstPage=decorate, onLaterPages=decorate
    )
    return path


def _pudong_pdf_table(font: str):
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Table, TableStyle

    cell = ParagraphStyle("cell", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    data = [[Paragraph(value, cell) if value else "" for value in cells] for cells in TABLE_CELLS]
    data[2][1] = data[3][1] = data[4][1] = ""
    table = Table(data, colWidths=[30, 80, 230, 90, 50])
    table.setStyle(
        TableStyle(
            [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("SPAN", (1, 1), (1, 4)), ("VALIGN", (0, 0), (-1, -1), "TOP")]
        )
    )
    return table


def build_image_only_pdf(path: Path) -> Path:
    """A "scan": one page holding only a picture of text, no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("RGB", (600, 800), "white")
    draw = ImageDraw.Draw(image)
    for y in range(60, 760, 30):  # lines of "text" as black bars
        draw.rectangle([50, y, 550, y + 12], fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    c = canvas.Canvas(str(path), pagesize=A4)
    c.drawImage(ImageReader(buffer), 40, 40, width=A4[0] - 80, height=A4[1] - 80)
    c.showPage()
    c.save()
    return path


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Plain text and encodings
# ---------------------------------------------------------------------------------------------


def test_utf8_text_is_passed_through(tmp_path):
    path = tmp_path / "qingpu.txt"
    path.write_bytes(QINGPU.encode("utf-8"))
    result = read(path)
    assert (result.kind, result.encoding) == ("text", "utf-8")
    assert result.text == QINGPU
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.notes == ()


def test_utf8_bom_is_stripped(tmp_path):
    path = tmp_path / "qingpu-bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + QINGPU.replace("\n", "\r\n").encode("utf-8"))
    result = read(path)
    assert result.kind == "text"
    assert result.encoding == "utf-8-sig"
    assert not result.text.startswith("\ufeff")
    assert result.text == QINGPU  # CRLF unified to LF as well


def test_gbk_text_is_detected(tmp_path):
    path = tmp_path / "qingpu-gbk.txt"
    path.write_bytes(QINGPU.encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    result = read(path)
    assert (result.kind, result.encoding) == ("text", "gb18030")
    assert result.text == QINGPU


@pytest.mark.parametrize("source", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.stem)
def test_corpus_files_read_unchanged(source):
    result = read(source)
    assert (result.kind, result.encoding) == ("text", "utf-8")
    assert result.text == source.read_text(encoding="utf-8").replace("\r\n", "\n")


def test_other_encodings_are_detected(tmp_path):
    traditional = "政府資訊公開工作要點：為深入落實區委、區政府關於政務公開的決策部署，進一步加強和改進政務公開工作。" * 3
    big5 = tmp_path / "big5.txt"
    big5.write_bytes(traditional.encode("big5"))  # also "decodes" as GB18030, into nonsense
    assert read(big5).text == traditional
    utf16 = tmp_path / "notepad-unicode.txt"
    utf16.write_bytes(QINGPU.encode("utf-16"))  # Windows Notepad's "Unicode": BOM + NUL bytes
    result = read(utf16)
    assert (result.encoding, result.text) == ("utf-16", QINGPU)


def test_minhang_web_text_keeps_its_characters(tmp_path):
    source = (CORPUS / "2024-minhang-pujin.txt").read_text(encoding="utf-8")
    path = tmp_path / "minhang.txt"
    path.write_bytes(source.encode("gb18030"))  # non-breaking spaces survive GB18030 too
    result = read(path)
    assert result.encoding == "gb18030"
    assert result.text == source.replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------------
# .docx
# ---------------------------------------------------------------------------------------------


def test_docx_paragraphs_numbering_and_table(tmp_path):
    result = read(build_qingpu_docx(tmp_path / "qingpu.docx", with_table=True))
    assert (result.kind, result.encoding) == ("docx", None)
    lines = result.text.splitlines()

    # Automatic numbering is rebuilt: 一、 for level 0 and （一） restarting under each 一、.
    for heading in [line for line in QINGPU_LINES if TOP_HEADING_RE.match(line) or SUB_HEADING_RE.match(line)]:
        assert heading in lines, heading
    # Heading-styled paragraphs stay alone on their line.
    for title in (NOTICE_TITLE, DOC_TITLE, "一、持续夯实政务公开工作基础，提升政务公开质效"):
        assert title in lines
    # Every source line, in order, nothing lost.
    non_table = [line for line in lines if line and "\t" not in line]
    assert [squash(line) for line in non_table] == [squash(line) for line in QINGPU_LINES]
    # Paragraphs are separated by blank lines, like the corpus files.
    assert "\n\n" + DOC_TITLE + "\n\n" in result.text

    # The table sits where it was in the body, one TAB-joined line per row, merged cells empty.
    table_lines = [line for line in lines if "\t" in line]
    assert table_lines == TABLE_LINES
    start = lines.index(TABLE_LINES[0])
    assert lines[start - 2].startswith("（一）加强政策制定过程中的公众参与")
    assert lines[start + len(TABLE_LINES) + 1].startswith("（二）办好政府开放活动")


def test_docx_numbering_formats_restarts_and_spans(tmp_path):
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    levels = [("chineseCounting", "%1、"), ("chineseCounting", "（%2）"), ("decimal", "%3."), ("decimal", "（%4）")]
    _add_abstract_num(document, 91, levels, num_id=91)
    _add_abstract_num(document, 92, [("decimal", "%1、")], num_id=92)
    _add_abstract_num(document, 93, [("decimalEnclosedCircle", "%1")], num_id=93)
    # numId 94 reuses abstract 92 but restarts at 1, like Word's "restart numbering".
    document.part.numbering_part.element.append(
        parse_xml(
            f'<w:num xmlns:w="{W_NS}" w:numId="94"><w:abstractNumId w:val="92"/>'
            '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
        )
    )
    plan = [
        (91, 0, "总体要求"), (91, 1, "指导思想"), (91, 2, "第一项"), (91, 2, "第二项"),
        (91, 3, "细项甲"), (91, 3, "细项乙"), (91, 2, "第三项"), (91, 1, "工作目标"),
        (91, 2, "重新编号"), (91, 0, "重点任务"), (91, 1, "深化公开"),
    ]
    for num_id, ilvl, text in plan:
        _number(document.add_paragraph(text), num_id, ilvl)
    for text in ("甲事项", "乙事项"):
        _number(document.add_paragraph(text), 92, 0)
    _number(document.add_paragraph("重新开始"), 94, 0)
    _number(document.add_paragraph("圆圈编号"), 93, 0)
    hidden = document.add_paragraph("可见文字")
    hidden.add_run("隐藏文字").font.hidden = True
    document.add_paragraph("第一行\t中间有制表符")
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))  # gridSpan=2
    merged.text = "合并表头"
    table.cell(0, 2).text = "丙"
    for c, value in enumerate(("1", "甲", "乙")):
        table.cell(1, c).text = value
    path = tmp_path / "numbering.docx"
    document.save(path)

    lines = [line for line in read(path).text.splitlines() if line]
    assert lines == [
        "一、总体要求", "（一）指导思想", "1. 第一项", "2. 第二项", "（1）细项甲", "（2）细项乙", "3. 第三项",
        "（二）工作目标", "1. 重新编号", "二、重点任务", "（一）深化公开",
        "1、甲事项", "2、乙事项", "1、重新开始", "①圆圈编号",
        "可见文字",
        "第一行 中间有制表符",  # a TAB in running text would look like a table row downstream
        "合并表头\t\t丙",
        "1\t甲\t乙",
    ]


def test_docx_list_number_style_gets_its_numbers(tmp_path):
    import docx

    document = docx.Document()
    for text in ("第一条", "第二条"):
        document.add_paragraph(text, style="List Number")  # numbering comes from the style
    path = tmp_path / "style-numbered.docx"
    document.save(path)
    assert [line for line in read(path).text.splitlines() if line] == ["1. 第一条", "2. 第二条"]


# ---------------------------------------------------------------------------------------------
# .pdf
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qingpu_pdf(tmp_path_factory) -> Path:
    return build_qingpu_pdf(tmp_path_factory.mktemp("pdf") / "qingpu.pdf")


def test_pdf_text_layer_is_read_without_headers_and_page_numbers(qingpu_pdf):
    import pdfplumber

    with pdfplumber.open(qingpu_pdf) as pdf:
        assert len(pdf.pages) >= 3  # enough pages for running headers to be recognisable
    result = read(qingpu_pdf)
    assert (result.kind, result.encoding) == ("pdf", None)
    lines = result.text.splitlines()
    assert not any(PDF_RUNNING_HEADER.replace("　", "") in squash(line) for line in lines)
    assert not any(re.fullmatch(r"-\s*\d+\s*-", line.strip()) for line in lines)
    # The body comes back complete and in order, Chinese characters intact.
    body = squash(result.text.split(TABLE_LINES[0])[0])
    assert squash("".join(QINGPU_LINES)) in body


def test_pdf_ruled_table_becomes_tab_rows(qingpu_pdf):
    result = read(qingpu_pdf)
    table_lines = [line for line in result.text.splitlines() if "\t" in line]
    assert [line.split("\t") for line in table_lines] == TABLE_CELLS
    # Table text is not repeated as loose lines.
    assert result.text.count("夯实现有集成主题的内容建设和效果管理") == 1
    # A blank line sets the table off from the running text.
    assert "\n\n" + TABLE_LINES[0] + "\n" in result.text


def test_scanned_pdf_is_rejected(tmp_path):
    path = build_image_only_pdf(tmp_path / "2025-scan.pdf")
    with pytest.raises(DocumentRejected) as excinfo:
        read(path)
    message = str(excinfo.value)
    assert message.startswith("2025-scan.pdf: ")
    assert "扫描版 PDF 没有文字层" in message and "OCR" in message


def test_blank_pdf_is_rejected_as_scanned(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "blank.pdf"
    c = canvas.Canvas(str(path))
    c.showPage()
    c.save()
    with pytest.raises(DocumentRejected, match="扫描版 PDF"):
        read(path)


def test_page_number_lines():
    from assistant.ingest.readers.pdf import _is_page_number_line

    for line in ("3", "- 3 -", "— 12 —", "－３－", "第3页", "第 3 页 共 10 页", "3/10", "3 / 10", "Page 3 of 10"):
        assert _is_page_number_line(line), line
    for line in ("2024年", "（一）", "1. 加强政策解读", "3月底前", "第三章 总则", "共印60份"):
        assert not _is_page_number_line(line), line


def test_pdf_hyphenated_latin_words_are_rejoined():
    from assistant.ingest.readers.pdf import _assemble_pdf_text, _PdfLine

    page = [_PdfLine("政务公开 infor-", 0, 10), _PdfLine("mation 平台", 12, 22), _PdfLine("2023-", 24, 34), _PdfLine("2024年", 36, 46)]
    assert _assemble_pdf_text([page]) == "政务公开 information 平台\n2023-\n2024年"


# ---------------------------------------------------------------------------------------------
# .html
# ---------------------------------------------------------------------------------------------

CHROME_TEXT = ("网站首页", "办事服务", "互动交流", "走进青浦", "热点推荐", "防汛防台", "网站地图", "版权所有", "沪ICP备", "当前位置", "_hmt")


def test_html_main_text_without_navigation(tmp_path):
    result = read(build_qingpu_html(tmp_path / "qingpu.html", with_table=True))
    assert (result.kind, result.encoding) == ("html", "utf-8")
    for chrome in CHROME_TEXT:
        assert chrome not in result.text, chrome
    lines = result.text.splitlines()
    non_table = [line for line in lines if line and "\t" not in line]
    assert [squash(line) for line in non_table] == [squash(line) for line in QINGPU_LINES]
    assert "\n\n" + DOC_TITLE + "\n\n" in result.text
    # rowspan cells come back empty, other cells in their columns.
    assert [line for line in lines if "\t" in line] == TABLE_LINES


def test_gbk_html_page_with_meta_charset(tmp_path):
    path = build_qingpu_html(tmp_path / "qingpu-gbk.htm", encoding="gb2312")
    result = read(path)
    assert (result.kind, result.encoding) == ("html", "gb18030")
    assert "（一）更好统筹政务公开和安全保密。" in result.text


def test_html_fallback_when_trafilatura_finds_nothing(tmp_path, monkeypatch):
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", lambda *args, **kwargs: None)
    result = read(build_qingpu_html(tmp_path / "qingpu.html", with_table=True))
    assert result.kind == "html"
    for chrome in CHROME_TEXT:
        assert chrome not in result.text, chrome
    lines = result.text.splitlines()
    non_table = [line for line in lines if line and "\t" not in line]
    assert [squash(line) for line in non_table] == [squash(line) for line in QINGPU_LINES]
    assert [line for line in lines if "\t" in line] == TABLE_LINES  # rowspan padded here too


def test_html_layout_tables_do_not_leak_navigation(tmp_path):
    page = """<html><body><table width="100%"><tr><td><a href="/">首页</a> <a href="/a">政务公开</a></td></tr>
<tr><td><table><tr><td class="left"><ul><li><a href="/1">通知公告</a></li><li><a href="/2">政策文件</a></li></ul></td>
<td class="main"><div id="zoom">""" + "".join(f"<p>{line}</p>" for line in QINGPU_LINES[:20]) + """
<table border="1"><tr><td colspan="2">合并表头</td><td>丙</td></tr><tr><td>1</td><td>甲</td><td>乙</td></tr></table>
""" + "".join(f"<p>{line}</p>" for line in QINGPU_LINES[20:]) + """</div></td></tr></table></td></tr>
<tr><td>版权所有 上海市青浦区人民政府 | 网站地图</td></tr></table></body></html>"""
    path = tmp_path / "old-site.html"
    path.write_text(page, encoding="utf-8")
    result = read(path)
    lines = [line for line in result.text.splitlines() if line]
    assert "版权所有" not in result.text and "通知公告" not in result.text
    assert lines[20:22] == ["合并表头\t\t丙", "1\t甲\t乙"]  # the data table stays in place


# ---------------------------------------------------------------------------------------------
# Content decides the format; rejections
# ---------------------------------------------------------------------------------------------


def test_docx_named_pdf_is_read_as_docx(tmp_path, caplog):
    path = build_qingpu_docx(tmp_path / "2024-qingpu-baihe.pdf")
    with caplog.at_level("WARNING", logger="assistant.ingest.readers"):
        result = read(path)
    assert result.kind == "docx"
    assert "（一）更好统筹政务公开和安全保密。" in result.text
    assert len(result.notes) == 1 and ".pdf" in result.notes[0]
    assert any("2024-qingpu-baihe.pdf" in record.getMessage() for record in caplog.records)


def test_docx_named_txt_is_read_as_docx(tmp_path):
    path = build_qingpu_docx(tmp_path / "2024-qingpu-baihe.txt")
    assert read(path).kind == "docx"


def test_html_named_txt_is_read_as_html(tmp_path):
    path = build_qingpu_html(tmp_path / "page.txt")
    result = read(path)
    assert result.kind == "html" and "网站地图" not in result.text


def test_text_named_docx_is_read_as_text(tmp_path):
    path = tmp_path / "really-text.docx"
    path.write_text(QINGPU, encoding="utf-8")
    result = read(path)
    assert result.kind == "text" and result.text == QINGPU and result.notes


@pytest.mark.parametrize(
    "filename, payload",
    [
        ("picture.txt", png_bytes),
        ("program.txt", lambda: b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 8),
        ("blob.txt", lambda: bytes(range(256)) * 8),
    ],
)
def test_binary_files_are_rejected(tmp_path, filename, payload):
    path = tmp_path / filename
    path.write_bytes(payload())
    with pytest.raises(DocumentRejected) as excinfo:
        read(path)
    assert str(excinfo.value).startswith(f"{filename}: 不是可识别的文档格式")


def test_legacy_doc_and_other_zip_are_rejected_clearly(tmp_path):
    doc = tmp_path / "old.doc"
    doc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(DocumentRejected, match=r"\.doc"):
        read(doc)
    archive = tmp_path / "bundle.docx"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "不是 Word 文档")
    with pytest.raises(DocumentRejected, match="不是可识别的文档格式"):
        read(archive)


def test_damaged_docx_and_pdf_are_rejected(tmp_path):
    broken_docx = tmp_path / "broken.docx"
    with zipfile.ZipFile(broken_docx, "w") as zf:
        zf.writestr("word/document.xml", "<w:document>not closed")
    with pytest.raises(DocumentRejected, match="^broken.docx: Word 文档已损坏"):
        read(broken_docx)
    broken_pdf = tmp_path / "broken.pdf"
    broken_pdf.write_bytes(b"%PDF-1.7\n" + "政务公开".encode() * 50)
    with pytest.raises(DocumentRejected, match="^broken.pdf: "):
        read(broken_pdf)


def test_empty_files_are_rejected(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DocumentRejected, match="^empty.txt: 文件为空"):
        read(empty)
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\u3000\n\t\n", encoding="utf-8")
    with pytest.raises(DocumentRejected, match="文件为空"):
        read(blank)
    import docx

    empty_docx = tmp_path / "empty.docx"
    docx.Document().save(empty_docx)
    with pytest.raises(DocumentRejected, match="文件为空"):
        read(empty_docx)


def test_oversized_file_is_rejected_with_the_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(QINGPU, encoding="utf-8")
    with pytest.raises(DocumentRejected) as excinfo:
        read(path, max_bytes=1000)
    message = str(excinfo.value)
    assert message.startswith("big.txt: ") and "超过上限 1.0 KB" in message and "1,000 bytes" in message
    assert read(path, max_bytes=path.stat().st_size).kind == "text"  # the limit itself is allowed


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(DocumentRejected, match="^nothing.txt: "):
        read(tmp_path / "nothing.txt")


# ---------------------------------------------------------------------------------------------
# Downstream: every format parses like the .txt
# ---------------------------------------------------------------------------------------------


def test_formats_parse_like_txt(tmp_path):
    structure = pytest.importorskip("assistant.ingest.structure")

    def clauses(text: str) -> list[tuple[tuple[str, ...], str]]:
        document = structure.parse_document(text, QINGPU_ID)
        return [(tuple(clause.heading_path), squash(clause.text)) for clause in document.clauses]

    expected = clauses(QINGPU)
    assert expected
    docx_text = read(build_qingpu_docx(tmp_path / "qingpu.docx")).text
    html_text = read(build_qingpu_html(tmp_path / "qingpu.html")).text
    assert clauses(docx_text) == expected
    assert clauses(html_text) == expected
    # The PDF keeps its physical lines; the normaliser downstream re-joins them.
    pdf_text = read(build_qingpu_pdf(tmp_path / "qingpu.pdf", with_table=False)).text
    assert clauses(pdf_text) == expected


# ---------------------------------------------------------------------------------------------
# Hostile files: zip bombs, page and size limits, nesting (limits lowered to keep files small)
# ---------------------------------------------------------------------------------------------

MIB = 1 << 20


def docx_members(text: str = "政务公开工作要点") -> list[tuple[str, bytes]]:
    """(name, content) of every member of a real one-paragraph .docx."""
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    with zipfile.ZipFile(buffer) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def write_docx(path: Path, extra: list[tuple[str, bytes]] = (), compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A real .docx with `extra` members added, written by zipfile (honest directory)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate-name case
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, content in [*docx_members(), *extra]:
                zf.writestr(name, content)
    return path


def _raw_deflate(content: bytes) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflater.compress(content) + deflater.flush()


def deflated_zeros(mebibytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mebibytes` MiB of zeros (about 1 KB per MiB) and its CRC-32.

    After a full flush the compressor keeps no history, so every flushed MiB compresses to the
    same bytes: the stream is built by repetition in milliseconds instead of deflating 200 MiB.
    """
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(MIB)
    block = deflater.compress(zeros) + deflater.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    return block * mebibytes + deflater.flush(), crc


def write_raw_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> Path:
    """A deflated zip from (name, deflate stream, CRC-32, declared size): the directory says
    whatever it is told, which zipfile itself would never write."""
    out = io.BytesIO()
    central = []
    for name, payload, crc, declared in members:
        offset = out.tell()
        encoded = name.encode("utf-8")
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(payload), declared, len(encoded), 0))
        out.write(encoded + payload)
        central.append(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(payload), declared,
                        len(encoded), 0, 0, 0, 0, 0, offset) + encoded
        )
    directory = b"".join(central)
    directory_offset = out.tell()
    out.write(directory)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), directory_offset, 0))
    path.write_bytes(out.getvalue())
    return path


def _honest(name: str, content: bytes) -> tuple[str, bytes, int, int]:
    return name, _raw_deflate(content), zlib.crc32(content), len(content)


def rejection(path: Path, limits: ReaderLimits | int = MAX) -> str:
    with pytest.raises(DocumentRejected) as excinfo:
        read_document(path, limits)
    message = str(excinfo.value)
    assert message.startswith(f"{path.name}: ")
    return message


def test_docx_bomb_whose_directory_lies_is_refused_at_once_in_little_memory(tmp_path):
    import time
    import tracemalloc

    bomb, crc = deflated_zeros(200)  # 200 MiB of "document.xml" in about 200 KB
    assert len(bomb) < 300_000
    members = [_honest(name, content) for name, content in docx_members() if name != "word/document.xml"]
    members.append(("word/document.xml", bomb, crc, 4_096))  # the directory claims 4 KB
    path = write_raw_zip(tmp_path / "bomb.docx", members)

    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = rejection(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "压缩目录与实际内容不符" in message and "压缩炸弹" in message
    assert "'word/document.xml' declares 4,096 bytes but inflates to more" in message
    assert time.perf_counter() - started < 5
    assert peak < 16 * MIB  # one inflate chunk at a time, never the member


def test_docx_bomb_with_true_sizes_is_refused_by_its_ratio(tmp_path):
    # 5 MiB of zeros deflate about 1000:1; the declared sizes are honest this time.
    path = write_docx(tmp_path / "ratio.docx", [("word/media/image1.bin", bytes(5 * MIB))])
    message = rejection(path)
    assert "压缩比超过 100:1" in message and "'word/media/image1.bin' inflates more than 100 times" in message


def test_small_parts_compressing_past_the_ratio_are_fine(tmp_path):
    # Word's XML parts often compress 100:1 and more; below 1 MB that is no sign of a bomb.
    xml = b'<?xml version="1.0"?><a>' + b"<b/>" * 200_000 + b"</a>"
    assert len(xml) < 1_000_000 and len(xml) / len(_raw_deflate(xml)) > 100
    result = read_document(write_docx(tmp_path / "repetitive.docx", [("customXml/item9.xml", xml)]), MAX)
    assert result.kind == "docx" and "政务公开工作要点" in result.text


def test_docx_inflating_past_the_unpacked_limit_is_refused(tmp_path):
    noise = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(12_500))  # 400 KB, incompressible
    path = write_docx(tmp_path / "big.docx", [("word/media/image1.png", noise)])
    unpacked = sum(len(content) for _, content in docx_members()) + len(noise)
    limit = unpacked - 100_000
    message = rejection(path, ReaderLimits(max_unpacked_bytes=limit))
    assert f"解压后超过 {limit / 1_000_000:.1f} MB" in message and f"inflates past {limit:,} bytes" in message
    assert read_document(path, ReaderLimits(max_unpacked_bytes=unpacked)).kind == "docx"  # the limit itself is allowed


def test_docx_with_too_many_members_is_refused_before_zipfile_reads_them(tmp_path, monkeypatch):
    path = write_docx(tmp_path / "many.docx", [(f"word/media/image{i}.png", b"") for i in range(30)])
    members = len(docx_members()) + 30
    limits = ReaderLimits(max_archive_members=20)
    assert f"内含 {members} 个部件，超过上限 20 个" in rejection(path, limits)

    import assistant.ingest.readers

    def no_zipfile(*args, **kwargs):
        raise AssertionError("zipfile must not parse the directory of a refused archive")

    monkeypatch.setattr(assistant.ingest.readers.zipfile, "ZipFile", no_zipfile)
    assert f"the archive holds {members} members, limit 20" in rejection(path, limits)


def test_docx_with_an_absurd_member_name_is_refused(tmp_path):
    path = write_docx(tmp_path / "long-name.docx", [("word/" + "a" * 300 + ".xml", b"<a/>")])
    message = rejection(path)
    assert "名称过长" in message and "309 characters long, limit 255" in message


def test_docx_with_two_members_of_one_name_is_refused(tmp_path):
    path = write_docx(tmp_path / "twins.docx", [("word/document.xml", b"<w:document/>")])
    assert "重名" in rejection(path)


def test_nested_archive_is_refused_except_as_an_embedded_office_file(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("payload.bin", b"\x00" * 1000)
    nested = write_docx(tmp_path / "nested.docx", [("word/media/image1.png", inner.getvalue())])
    message = rejection(nested)
    assert "内嵌了压缩包" in message and "'word/media/image1.png' is itself an archive" in message
    # Word stores embedded workbooks (.xlsx, themselves zips) here; they are never unpacked.
    embedded = write_docx(tmp_path / "chart.docx", [("word/embeddings/Microsoft_Excel_Worksheet.xlsx", inner.getvalue())])
    assert read_document(embedded, MAX).kind == "docx"


def test_docx_with_bzip2_members_is_refused(tmp_path):
    path = write_docx(tmp_path / "bzip2.docx", compression=zipfile.ZIP_BZIP2)
    assert "不支持的压缩方式" in rejection(path)


def test_corrupt_zips_are_refused_with_a_clear_message(tmp_path):
    junk = tmp_path / "junk.docx"
    junk.write_bytes(b"PK\x03\x04" + b"\x00\xff" * 500)
    assert "压缩文件已损坏" in rejection(junk)

    document = next(content for name, content in docx_members() if name == "word/document.xml")
    others = [_honest(name, content) for name, content in docx_members() if name != "word/document.xml"]
    stream = bytearray(_raw_deflate(document))
    stream[len(stream) // 2:] = b"\xff" * (len(stream) - len(stream) // 2)  # damaged deflate data
    damaged = write_raw_zip(tmp_path / "damaged.docx", [*others, ("word/document.xml", bytes(stream), zlib.crc32(document), len(document))])
    assert "Word 文档已损坏" in rejection(damaged)

    truncated = write_raw_zip(  # stream cut short: fewer bytes come out than declared
        tmp_path / "truncated.docx",
        [*others, ("word/document.xml", _raw_deflate(document)[:40], zlib.crc32(document), len(document))],
    )
    assert "Word 文档已损坏" in rejection(truncated)

    wrong_crc = write_raw_zip(
        tmp_path / "wrong-crc.docx", [*others, ("word/document.xml", _raw_deflate(document), 12345, len(document))]
    )
    assert "does not match its size or checksum" in rejection(wrong_crc)


def build_pages_pdf(path: Path, pages: int) -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.setFont(_cjk_font(), 12)
    for n in range(1, pages + 1):
        c.drawString(72, 720, f"第{n}条 政务公开工作要点")
        c.showPage()
    c.save()
    return path


def test_pdf_with_too_many_pages_is_refused_before_extraction(tmp_path, monkeypatch):
    path = build_pages_pdf(tmp_path / "long.pdf", 6)
    import assistant.ingest.readers.pdf

    def no_extraction(page):
        raise AssertionError("no page may be extracted from a refused PDF")

    with monkeypatch.context() as patched:
        patched.setattr(assistant.ingest.readers.pdf, "_pdf_page_items", no_extraction)
        message = rejection(path, ReaderLimits(max_pdf_pages=5))
    assert "PDF 超过 5 页的上限" in message and "more than 5 pages" in message
    assert read_document(path, ReaderLimits(max_pdf_pages=6)).kind == "pdf"


def test_pdf_text_past_the_character_limit_is_refused(tmp_path):
    path = build_pages_pdf(tmp_path / "wordy.pdf", 3)
    assert "超过上限 20 字" in rejection(path, ReaderLimits(max_text_chars=20))


@pytest.mark.parametrize(
    "name, content",
    [
        ("truncated.pdf", lambda pdf: pdf[: len(pdf) // 2]),
        ("nested.pdf", lambda pdf: b"%PDF-1.4\n1 0 obj\n" + b"[" * 100_000 + b"]" * 100_000 + b"\nendobj\n%%EOF"),
        ("no-xref.pdf", lambda pdf: pdf.replace(b"xref", b"fref").replace(b"startxref", b"startfref")),
    ],
)
def test_malformed_pdf_is_refused_not_a_traceback(tmp_path, qingpu_pdf, name, content):
    path = tmp_path / name
    path.write_bytes(content(qingpu_pdf.read_bytes()))
    try:
        result = read_document(path, MAX)
    except DocumentRejected as exc:
        assert str(exc).startswith(f"{name}: ")
    else:  # pdfminer may recover a damaged cross-reference table; then the text must be there
        assert result.kind == "pdf" and result.text.strip()


def test_text_and_html_past_the_character_limit_are_refused_before_parsing(tmp_path, monkeypatch):
    import trafilatura

    limits = ReaderLimits(max_text_chars=2_000)
    text = tmp_path / "long.txt"
    text.write_text("政" * 2_001, encoding="utf-8")
    message = rejection(text, limits)
    assert "文字内容 2,001 字，超过上限 2,000 字" in message and "2,001 characters, limit 2,000" in message
    text.write_text("政" * 2_000, encoding="utf-8")
    assert read_document(text, limits).kind == "text"  # the limit itself is allowed

    def no_parsing(*args, **kwargs):
        raise AssertionError("an oversized page must not reach the HTML parser")

    monkeypatch.setattr(trafilatura, "extract", no_parsing)
    page = tmp_path / "long.html"
    page.write_text("<html><body>" + "<p>政务公开</p>" * 500 + "</body></html>", encoding="utf-8")
    assert "超过上限 2,000 字" in rejection(page, limits)


@pytest.mark.parametrize("open_tag, close_tag", [("<div>", "</div>"), ("<table><tr><td>x</td><td>", "</td></tr></table>"),
                                                 ("<ul><li>项", "</li></ul>"), ("<span>", "</span>")])
def test_deeply_nested_html_is_read_or_refused_without_crashing(tmp_path, open_tag, close_tag):
    path = tmp_path / "nested.html"
    depth = 50_000
    path.write_text(f"<html><body>{open_tag * depth}正文内容{close_tag * depth}</body></html>", encoding="utf-8")
    try:
        result = read_document(path, MAX)
    except DocumentRejected as exc:
        assert str(exc).startswith("nested.html: ")
    else:
        assert result.kind == "html"


def test_html_falls_back_to_the_plain_parser_on_recursion_error(tmp_path, monkeypatch):
    import assistant.ingest.readers.html

    def too_deep(html):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(assistant.ingest.readers.html, "_html_via_trafilatura", too_deep)
    result = read_document(build_qingpu_html(tmp_path / "qingpu.html"), MAX)
    assert result.kind == "html" and "（一）更好统筹政务公开和安全保密。" in result.text


# ---------------------------------------------------------------------------------------------
# Property: whatever the bytes, a ReadResult or a DocumentRejected, nothing else
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("seeds")
    return {
        "docx": write_docx(folder / "seed.docx").read_bytes(),
        "pdf": build_pages_pdf(folder / "seed.pdf", 2).read_bytes(),
        "html": build_qingpu_html(folder / "seed.html").read_bytes()[:3000],
    }


def _mutate(seed: bytes, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    return bytes(data)


def test_any_input_gives_a_result_or_a_rejection(seed_files):
    import tempfile

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8)
    contents = st.one_of(
        st.binary(max_size=2_000),
        st.builds(lambda prefix, tail: prefix + tail,
                  st.sampled_from([b"PK\x03\x04", b"%PDF-1.4\n", b"<html><body>", b"\xef\xbb\xbf"]), st.binary(max_size=2_000)),
        st.text(max_size=2_000).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.builds(_mutate, st.sampled_from(sorted(seed_files)).map(seed_files.get), edits),
    )

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(content=contents, suffix=st.sampled_from([".txt", ".html", ".docx", ".pdf"]))
    def check(content: bytes, suffix: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(content)
            try:
                result = read_document(path, ReaderLimits(max_bytes=MAX))
            except DocumentRejected as exc:
                assert str(exc).startswith(f"upload{suffix}: ")
            else:
                assert isinstance(result, ReadResult) and result.text.strip()

    check()
