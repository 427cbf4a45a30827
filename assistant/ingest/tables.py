"""Task tables (任务分解表) -> one record per row.

Four layouts occur in published documents:
- tab-separated rows (Word/web exports): one line per row, a blank cell continues the merged
  cell above, and rows may lack a merged column altogether;
- pipe-separated rows ("工作要点 | 具体要求 | 任务分工 |", web pages): the same, and a row whose
  merged leading cells are left out is shifted left with empty cells at its end;
- one cell per line (web pages): the header is one word per line and each row begins at its 序号;
- PDF text: every cell is broken over several lines and rows are told apart only by their
  序号. The indicator columns (一级/二级指标) repeat the body's headings, which is how their
  broken fragments are put back together.

Responsible units and deadlines written after a task in the body ("（区发展改革委、区经委）",
"(责任单位:区发改委,完成时限:2023年10月)") are read here too, so body and table agree on names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.ingest.searchkey import compact

_HEADER_CELL = re.compile(r"[\t ]+")
_ROLE_BY_HEADER = (
    ("number", re.compile(r"^序号$")),
    ("category", re.compile(r"^(?:任务名称|一级指标|二级指标|工作类别|类别|重点任务|任务类别|领域|工作要点)$")),
    ("task", re.compile(r"^(?:任务内容|三级指标|工作任务|具体任务|工作内容|主要任务|工作措施|具体内容|具体要求|工作要求)$")),
    ("units", re.compile(r"^(?:责任单位|牵头单位|责任部门|承办单位|责任主体|牵头部门|任务分工)$")),
    ("deadline", re.compile(r"^(?:时间节点|完成时限|完成时间|时间安排|进度安排|时限要求)$")),
)
_CAPTION = re.compile(r"(?:任务分解表|任务清单|责任分工表|分工表|分解表|任务表)$")
_DEADLINE = re.compile(
    r"(?:全年|长期|持续推进|常态化|年底前|上半年|下半年|\d{4}\s*年\s*\d{1,2}\s*月(?:底|前)?"
    r"|\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?(?:底|前|中旬|上旬|下旬)?(?:前)?)$"
)
_ROW_START = re.compile(r"^(\d{1,3})(?:[\t ]+(.*))?$")
_UNIT_SPLIT = "、，,；;"
_UNIT_LABEL = re.compile(r"(?:牵头单位|责任单位|配合单位|协办单位|参与单位|责任部门|牵头部门|配合部门|主责单位|承办单位|责任主体)"
                         r"\s*[:：]")
_DEADLINE_FIELD = re.compile(r"(?:完成时限|完成期限|完成时间|时间节点|时限要求|时限)\s*[:：]\s*(?P<when>[^,，;；)）]+)")
_UNIT_ROLE = re.compile(r"(?:牵头|配合|落实|负责|参与|协同|协助|组织实施)+$")
_ETC = re.compile(r"等(?:有关|相关|其他)?(?:部门|单位|处室|科室|机构)?(?:[（(](?:单位|部门)[）)])?$")
_BARE_PLACE = re.compile(r"^各?[市县区乡镇]$")   # "各市、县(市、区)教育局": 各市 qualifies the next name
_PAREN_GROUP = re.compile(r"[（(]([^（）()]{2,200})[）)]")
_UNIT_NAME = re.compile(
    r"^(?:区|市|镇|街道|各|县)[^，,。；;：:“”]{0,24}$"
)


@dataclass
class TableRow:
    number: int
    task: str
    units: list[str]
    units_text: str
    deadline: str | None
    categories: list[str]                 # 任务名称 or 一级/二级指标, carried down merged cells
    own_cells: list[str] = field(default_factory=list)  # the text physically in this row, in order
    lines: tuple[int, int] = (0, 0)       # first and last line of the row (0 = the header line)


def _cells(line: str) -> list[str]:
    if "|" in line:
        return [c.strip() for c in line.split("|") if c.strip()]
    return [c for c in _HEADER_CELL.split(line.strip()) if c]


def _role(cell: str) -> str | None:
    return next((name for name, pattern in _ROLE_BY_HEADER if pattern.match(cell)), None)


def table_roles(cells: list[str]) -> list[str] | None:
    """The role of each header cell, or None if these cells are not a task-table header."""
    roles = [_role(c) for c in cells]
    if len(roles) < 3 or None in roles:
        return None
    tasks = [i for i, r in enumerate(roles) if r == "task"]
    for i in tasks[:-1]:  # "工作任务 | 具体要求": the first names the group, the last the task
        roles[i] = "category"
    return roles if {"task", "units"} <= set(roles) or {"task", "deadline"} <= set(roles) else None


def header_roles(line: str) -> list[str] | None:
    """The role of each column if `line` is a task-table header row, else None."""
    return table_roles(_cells(line))


def is_table_header(line: str) -> bool:
    return header_roles(line) is not None


def vertical_header(lines: list[str], at: int) -> int:
    """How many lines from `at` are a header written one cell per line (0 if none)."""
    n = 0
    while at + n < len(lines) and _role(lines[at + n].strip()):
        n += 1
    return n if n >= 3 and table_roles([ln.strip() for ln in lines[at:at + n]]) else 0


def find_table_header(lines: list[str], start: int = 0) -> tuple[int, int] | None:
    """(first line, number of lines) of the first task-table header at or after `start`."""
    for i in range(start, len(lines)):
        if is_table_header(lines[i]):
            return i, 1
        if n := vertical_header(lines, i):
            return i, n
    return None


def is_table_caption(line: str) -> bool:
    return bool(_CAPTION.search(line.strip()))


def _split_top_level(text: str) -> list[str]:
    """Split at 、，,；; outside brackets: '各市、县(市、区)教育局' keeps its bracket whole."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "（(":
            depth += 1
        elif ch in "）)" and depth:
            depth -= 1
        if ch in _UNIT_SPLIT and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return parts + [current]


def _unit_name(part: str) -> str:
    """'区金融局等负责落实' -> 区金融局, '区政务公开办牵头' -> 区政务公开办."""
    part = _UNIT_ROLE.sub("", part)
    return _UNIT_ROLE.sub("", _ETC.sub("", part)).strip()


def split_units(text: str) -> list[str]:
    """'区政务公开办、大数据中心牵头,各单位落实' -> ['区政务公开办', '大数据中心', '各单位']."""
    names: list[str] = []
    pending = ""
    for part in _split_top_level(compact(_UNIT_LABEL.sub("、", text))):
        if _BARE_PLACE.match(part):
            pending += part + "、"
            continue
        name = _unit_name(pending + part) if part else ""
        pending = ""
        if name and name not in names:
            names.append(name)
    return names  # a trailing bare "市、区" qualifies nothing: it is no unit


def _group_units(content: str) -> list[str]:
    """Units named inside one pair of brackets; [] when the brackets hold something else."""
    labelled = bool(_UNIT_LABEL.search(content))
    names = split_units(_DEADLINE_FIELD.sub("", content))
    if labelled or (names and all(_UNIT_NAME.match(n) for n in names)):
        return names
    return []


def units_in_parentheses(text: str) -> list[str]:
    """Responsible units written after a task, in order of appearance: '（区发展改革委、区经委）',
    '(责任单位:区发改委、区科委)', '(区发改委负责落实,完成时限:2023年10月)', '（牵头单位：…，配合单位：…）'."""
    found: list[str] = []
    for group in _PAREN_GROUP.finditer(text):
        for name in _group_units(group.group(1)):
            if name not in found:
                found.append(name)
    return found


def deadline_in_parentheses(text: str) -> str | None:
    """The deadline written with a task: '(…,完成时限:2023年10月)' -> '2023年10月'."""
    found: list[str] = []
    for group in _PAREN_GROUP.finditer(text):
        for m in _DEADLINE_FIELD.finditer(group.group(1)):
            when = compact(m.group("when"))
            if when and when not in found:
                found.append(when)
    return "、".join(found) or None


def parse_table(lines: list[str], heading_titles: dict[int, set[str]], header_lines: int = 1) -> list[TableRow]:
    """Parse a task table; `lines` start with its header (`header_lines` lines). `heading_titles`
    maps heading rank -> body titles (PDF layout only). Row spans index into `lines`."""
    header, body = lines[:header_lines], lines[header_lines:]
    if header_lines > 1:
        return _parse_cell_rows(body, table_roles([h.strip() for h in header]) or [], header_lines)
    roles = header_roles(header[0]) or []
    if "|" in header[0]:
        return _parse_pipe_rows(body, roles)
    if any("\t" in line for line in body):
        return _parse_tab_rows(body, roles)
    return _parse_layout_rows(body, roles, heading_titles)


def _by_role(roles: list[str], cells: list[str]) -> dict[str, list[str]]:
    by_role: dict[str, list[str]] = {}
    for role, cell in zip(roles, cells):
        by_role.setdefault(role, []).append(cell)
    return by_role


def _row(number: int, by_role: dict[str, list[str]], carried: list[str], own: list[str],
         span: tuple[int, int]) -> TableRow:
    """One row; a blank category cell continues the merged cell above (`carried`, updated here)."""
    for i, value in enumerate(by_role.get("category", [])):
        if value:
            carried[i] = value
            carried[i + 1:] = [""] * (len(carried) - i - 1)
    units_text = " ".join(c for c in by_role.get("units", []) if c)
    return TableRow(
        number=number, task=" ".join(c for c in by_role.get("task", []) if c), units=split_units(units_text),
        units_text=units_text, deadline=" ".join(c for c in by_role.get("deadline", []) if c) or None,
        categories=[c for c in carried if c], own_cells=own, lines=span,
    )


def _parse_tab_rows(lines: list[str], roles: list[str]) -> list[TableRow]:
    rows: list[TableRow] = []
    carried = [""] * roles.count("category")
    for at, line in enumerate(lines, 1):
        cells = [c.strip() for c in line.split("\t")]
        if not _ROW_START.match(cells[0]):
            if rows:  # a cell's text broken onto its own line
                rows[-1].task += compact(line)
                rows[-1].own_cells.append(line)
                rows[-1].lines = (rows[-1].lines[0], at)
            continue
        if len(cells) < len(roles):  # the merged category column is left out, not blank
            missing = len(roles) - len(cells)
            cells = cells[:1] + [""] * missing + cells[1:]
        rows.append(_row(int(cells[0]), _by_role(roles, cells), carried, [c for c in cells if c], (at, at)))
    return rows


def _looks_like_category(cell: str) -> bool:
    """A short label ('政策解读'), not the beginning of a task ('4.完善政策文件库建设,')."""
    return len(cell) <= 20 and not re.search(r"^\d|[。；;，,]", cell)


def _place_cells(cells: list[str], roles: list[str], complete: bool) -> list[str]:
    """Line up a row's cells with the columns. A complete row that has fewer cells left out its
    merged leading (category) cells; a row the text was cut inside has its first cells only."""
    if len(cells) >= len(roles):
        return cells[:len(roles) - 1] + [" ".join(cells[len(roles) - 1:])]
    if complete:
        return [""] * (len(roles) - len(cells)) + cells
    lead = 0 if _looks_like_category(cells[0]) else next((i for i, r in enumerate(roles) if r == "task"), 0)
    return ([""] * lead + cells + [""] * len(roles))[:len(roles)]


def _parse_pipe_rows(lines: list[str], roles: list[str]) -> list[TableRow]:
    rows: list[TableRow] = []
    carried = [""] * roles.count("category")
    for at, line in enumerate(lines, 1):
        complete = line.rstrip().endswith("|")
        cells = [c.strip() for c in line.strip().split("|")]
        cells = cells[:-1] if complete else cells
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        by_role = _by_role(roles, _place_cells(cells, roles, complete))
        numbered = (by_role.get("number") or [""])[0]
        number = int(numbered) if numbered.isdigit() else len(rows) + 1
        physical = [piece.strip() for piece in re.split(r"(\|)", line) if piece.strip()]  # separators too
        rows.append(_row(number, by_role, carried, physical, (at, at)))
    return rows


def _parse_cell_rows(lines: list[str], roles: list[str], offset: int) -> list[TableRow]:
    """One cell per line: a row starts at the line holding its 序号; the cells of columns before
    序号 (领域) are the lines after the previous row's deadline."""
    if "number" not in roles:
        return []
    k = roles.index("number")
    before, after = roles[:k], roles[k + 1:]
    blocks: list[tuple[int, list[int]]] = []     # (line of the 序号, lines after it)
    lead: list[int] = []                          # lines before the first 序号
    for at, line in enumerate(lines):
        if line.strip() == str(len(blocks) + 1):
            blocks.append((at, []))
        elif blocks:
            blocks[-1][1].append(at)
        else:
            lead.append(at)
    rows: list[TableRow] = []
    carried = [""] * roles.count("category")
    for n, (number_at, rest) in enumerate(blocks, 1):
        end = next((j for j, at in enumerate(rest) if _DEADLINE.fullmatch(compact(lines[at]))), None)
        own, next_lead = (rest, []) if end is None or "deadline" not in after else (rest[:end + 1], rest[end + 1:])
        text = [lines[at].strip() for at in own]
        placed = _place_cells(text, after, complete=end is not None) if text else [""] * len(after)
        lead_text = [lines[at].strip() for at in lead][-len(before):] if before else []
        by_role = _by_role(before + ["number"] + after,
                           [""] * (len(before) - len(lead_text)) + lead_text + [str(n)] + placed)
        span_lines = lead + [number_at] + own
        own_cells = [lines[at].strip() for at in span_lines]
        rows.append(_row(n, by_role, carried, own_cells, (span_lines[0] + offset, span_lines[-1] + offset)))
        lead = next_lead
    return rows


def _row_blocks(lines: list[str]) -> list[tuple[int, list[str], tuple[int, int]]]:
    """Group lines into rows: a row starts at its 序号, the next expected number."""
    blocks: list[tuple[int, list[str], tuple[int, int]]] = []
    expected = 1
    for at, line in enumerate(lines, 1):
        stripped = line.strip()
        m = _ROW_START.match(stripped)
        if m and int(m.group(1)) == expected:
            blocks.append((expected, [m.group(2)] if m.group(2) else [], (at, at)))
            expected += 1
        elif blocks:
            number, block, (first, _) = blocks[-1]
            block.append(stripped)
            blocks[-1] = (number, block, (first, at))
    return blocks


def _take_categories(lines: list[str], heading_titles: dict[int, set[str]]) -> tuple[dict[int, str], int]:
    """Consume leading lines that spell out body headings; return {rank: title} and lines used."""
    titles = {compact(t): rank for rank, ts in heading_titles.items() for t in ts}
    found: dict[int, str] = {}
    pos = 0
    while pos < len(lines):
        acc, matched = "", None
        for j in range(pos, len(lines)):
            acc += compact(lines[j])
            if acc in titles:
                matched = j
                break
            if not any(t.startswith(acc) for t in titles):
                break
        if matched is None:
            break
        found[titles[acc]] = acc
        pos = matched + 1
    return found, pos


def _leading_fragments(lines: list[str]) -> int:
    """How many short lines (a narrow cell broken every few characters) open the block."""
    count = 0
    for line in lines:
        if len(compact(line)) > 6 or any(p in line for p in "。；"):
            break
        count += 1
    return count if count < len(lines) else 0


def _split_tail(text: str) -> tuple[str, str, str | None]:
    """Split the joined row text into (task, units, deadline)."""
    text = text.strip()
    deadline = None
    m = _DEADLINE.search(text)
    if m and (m.start() == 0 or text[m.start() - 1] in " \n\t、，。"):
        deadline = compact(m.group(0))
        text = text[:m.start()].rstrip()
    cut = max(text.rfind("。"), text.rfind("；"))
    if cut == -1:
        # No sentence end: the units are the last line.
        head, _, tail = text.rpartition("\n")
        return head, tail, deadline
    return text[:cut + 1], text[cut + 1:], deadline


def _parse_layout_rows(lines: list[str], roles: list[str],
                       heading_titles: dict[int, set[str]]) -> list[TableRow]:
    rows: list[TableRow] = []
    carried: dict[int, str] = {}
    n_categories = max(roles.count("category"), 1)
    for number, block, span in _row_blocks(lines):
        found, used = _take_categories(block, heading_titles)
        fragments = _leading_fragments(block[used:])
        if fragments and n_categories not in found:
            # An indicator cell that repeats no body heading: its fragments are the short
            # lines before the task text starts.
            found[n_categories] = compact("".join(block[used:used + fragments]))
            used += fragments
        if found:
            top = min(found)
            carried = {rank: title for rank, title in carried.items() if rank < top}
            carried.update(found)
        rest = "\n".join(block[used:])
        task, units_text, deadline = _split_tail(rest)
        units_text = compact(units_text)
        own = [str(number)] + [found[r] for r in sorted(found)] + [compact(task), units_text]
        rows.append(TableRow(
            number=number, task=compact(task), units=split_units(units_text),
            units_text=units_text, deadline=deadline,
            categories=[carried[r] for r in sorted(carried)],
            own_cells=own + ([deadline] if deadline else []), lines=span,
        ))
    return rows
