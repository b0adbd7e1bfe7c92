"""BENCHMARKS.md: each benchmark rewrites its own section, and scripts may finish together."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
import bench.report as report
report.BENCHMARKS = Path({path!r})
for i in range(40):
    report.write_section(f"{{sys.argv[1]}}-{{i}}", f"Section {{sys.argv[1]}} {{i}}", f"figure {{i}}")
"""


def test_two_benchmarks_writing_at_once_lose_no_section(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    script = WRITER.format(root=str(ROOT), path=str(path))
    writers = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("pages", "pipeline")]
    assert [writer.wait(60) for writer in writers] == [0, 0]
    text = path.read_text()
    for name in ("pages", "pipeline"):
        for i in range(40):
            assert f"<!-- bench:{name}-{i} -->\n## Section {name} {i}\n\nfigure {i}\n<!-- /bench:{name}-{i} -->" in text


def test_rewriting_a_section_replaces_it_and_keeps_the_others(tmp_path, monkeypatch):
    import bench.report as report

    monkeypatch.setattr(report, "BENCHMARKS", tmp_path / "BENCHMARKS.md")
    report.write_section("a", "A", "old a")
    report.write_section("b", "B", "b")
    report.write_section("a", "A", "new a")
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "new a" in text and "old a" not in text and "\nb\n" in text
    assert text.count("<!-- bench:a -->") == 1
