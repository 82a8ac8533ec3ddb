"""Result tables, as aligned text for the terminal and as markdown for the README."""

from __future__ import annotations

from dataclasses import dataclass

from runner import Measurement

HEADER = ("command", "median s", "min s", "median CPU s", "peak RSS MiB", "ratio")


@dataclass(frozen=True)
class Row:
    measurement: Measurement
    baseline: Measurement | None = None  # what it is compared with, e.g. its ss counterpart


@dataclass(frozen=True)
class Section:
    title: str
    facts: tuple[tuple[str, str], ...]
    rows: tuple[Row, ...]


def cells(row: Row) -> tuple[str, str, str, str, str, str]:
    measured = row.measurement
    if measured.failure:
        return (measured.label, measured.failure, "-", "-", "-", "-")
    rss = "-" if measured.peak_rss_mib is None else f"{measured.peak_rss_mib:.1f}"
    cpu = "-" if measured.median_cpu_s is None else f"{measured.median_cpu_s:.3f}"
    return (measured.label, f"{measured.median_s:.3f}", f"{measured.min_s:.3f}", cpu, rss,
            _ratio(measured, row.baseline))


def _ratio(measured: Measurement, baseline: Measurement | None) -> str:
    """``4.2x ss -tan (CPU 3.9x)``: how many times the baseline's median time this one's median
    is, wall and CPU."""
    if baseline is None or baseline.failure or not baseline.median_s:
        return ""
    text = f"{_times(measured.median_s, baseline.median_s)} {baseline.label}"
    if measured.median_cpu_s and baseline.median_cpu_s:
        text += f" (CPU {_times(measured.median_cpu_s, baseline.median_cpu_s)})"
    return text


def _times(value: float | None, base: float) -> str:
    ratio = (value or 0.0) / base
    digits = 0 if ratio >= 10 else 1 if ratio >= 1 else 2
    return f"{ratio:.{digits}f}x"


def format_text(section: Section) -> str:
    lines = [f"== {section.title}"]
    lines += [f"   {key}: {value}" for key, value in section.facts]
    if not section.rows:
        return "\n".join(lines)
    table = [HEADER, *(cells(row) for row in section.rows)]
    widths = [max(len(line[column]) for line in table) for column in range(len(HEADER))]
    for line in table:
        assert len(line) == len(widths)
        first, *numbers = zip(line, widths)
        text = [first[0].ljust(first[1])] + [cell.rjust(width) for cell, width in numbers]
        lines.append("   " + "  ".join(text).rstrip())
    return "\n".join(lines)


def format_markdown(section: Section) -> str:
    lines = [f"### {section.title}", ""]
    lines += [f"- {key}: {value}" for key, value in section.facts]
    if not section.rows:
        return "\n".join(lines)
    lines += ["", "| " + " | ".join(HEADER) + " |", "|---|--:|--:|--:|--:|---|"]
    lines += ["| " + " | ".join(_escape(cell) for cell in cells(row)) + " |"
              for row in section.rows]
    return "\n".join(lines)


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")
