"""Task tables (任务分解表) -> one record per row.

Two layouts occur in published documents:
- tab-separated rows (Word/web exports): one line per row, a blank cell continues the merged
  cell above, and rows may lack a merged column altogether;
- PDF text: every cell is broken over several lines and rows are told apart only by their
  序号. The indicator columns (一级/二级指标) repeat the body's headings, which is how their
  broken fragments are put back together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.searchkey import compact

_HEADER_CELL = re.compile(r"[\t ]+")
_ROLE_BY_HEADER = (
    ("number", re.compile(r"^序号$")),
    ("category", re.compile(r"^(?:任务名称|一级指标|二级指标|工作类别|类别|重点任务|任务类别)$")),
    ("task", re.compile(r"^(?:任务内容|三级指标|工作任务|具体任务|工作内容|主要任务|工作措施|具体内容)$")),
    ("units", re.compile(r"^(?:责任单位|牵头单位|责任部门|承办单位|责任主体|牵头部门)$")),
    ("deadline", re.compile(r"^(?:时间节点|完成时限|完成时间|时间安排|进度安排)$")),
)
_CAPTION = re.compile(r"(?:任务分解表|任务清单|责任分工表|分工表|分解表|任务表)$")
_DEADLINE = re.compile(
    r"(?:全年|长期|持续推进|常态化|年底前|上半年|下半年|\d{4}\s*年\s*\d{1,2}\s*月(?:底|前)?"
    r"|\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?(?:底|前|中旬|上旬|下旬)?(?:前)?)$"
)
_ROW_START = re.compile(r"^(\d{1,3})(?:[\t ]+(.*))?$")
_UNIT_SPLIT = re.compile(r"[、，,；;]")
_UNIT_ROLE = re.compile(r"(?:牵头|配合|落实|负责|参与)$")
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


def header_roles(line: str) -> list[str] | None:
    """The role of each column if `line` is a task-table header row, else None."""
    cells = [c for c in _HEADER_CELL.split(line.strip()) if c]
    if not cells or cells[0] != "序号":
        return None
    roles = []
    for cell in cells:
        role = next((name for name, pattern in _ROLE_BY_HEADER if pattern.match(cell)), None)
        if role is None:
            return None
        roles.append(role)
    return roles if {"task", "units"} <= set(roles) or {"task", "deadline"} <= set(roles) else None


def is_table_header(line: str) -> bool:
    return header_roles(line) is not None


def is_table_caption(line: str) -> bool:
    return bool(_CAPTION.search(line.strip()))


def split_units(text: str) -> list[str]:
    """'区政务公开办、大数据中心牵头,各单位落实' -> ['区政务公开办', '大数据中心', '各单位']."""
    names = []
    for part in _UNIT_SPLIT.split(compact(text)):
        part = _UNIT_ROLE.sub("", part).strip()
        if part and part not in names:
            names.append(part)
    return names


def units_in_parentheses(text: str) -> list[str]:
    """Responsible units written as '（区发展改革委、区经委）' after a task, in order of appearance."""
    found: list[str] = []
    for group in _PAREN_GROUP.finditer(text):
        names = split_units(group.group(1))
        if names and all(_UNIT_NAME.match(n) for n in names):
            for name in names:
                if name not in found:
                    found.append(name)
    return found


def parse_table(lines: list[str], heading_titles: dict[int, set[str]]) -> list[TableRow]:
    """Parse the lines after a header row. `heading_titles` maps heading rank -> body titles."""
    header, body = lines[0], lines[1:]
    roles = header_roles(header) or []
    if any("\t" in line for line in body):
        return _parse_tab_rows(body, roles)
    return _parse_layout_rows(body, roles, heading_titles)


def _parse_tab_rows(lines: list[str], roles: list[str]) -> list[TableRow]:
    rows: list[TableRow] = []
    n_categories = roles.count("category")
    carried: list[str] = [""] * n_categories
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
        by_role: dict[str, list[str]] = {}
        for role, cell in zip(roles, cells):
            by_role.setdefault(role, []).append(cell)
        categories = by_role.get("category", [])
        for i, value in enumerate(categories):
            if value:
                carried[i] = value
                carried[i + 1:] = [""] * (n_categories - i - 1)
        units_text = " ".join(by_role.get("units", []))
        deadline = " ".join(by_role.get("deadline", [])) or None
        rows.append(TableRow(
            number=int(cells[0]), task=" ".join(by_role.get("task", [])),
            units=split_units(units_text), units_text=units_text, deadline=deadline,
            categories=[c for c in carried if c], own_cells=[c for c in cells if c], lines=(at, at),
        ))
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
