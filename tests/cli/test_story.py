"""`featent story`: writes one HTML page; bad input is one line, never a traceback."""

from __future__ import annotations

import numpy as np

from featent.cli.main import main


def test_story_writes_the_page_for_an_array(tmp_path, capsys) -> None:
    np.save(tmp_path / "u.npy", np.random.default_rng(1).random((6, 6)))
    out = tmp_path / "s.html"
    assert main(["story", "--out", str(out), "--array", str(tmp_path / "u.npy")]) == 0
    assert out.read_text(encoding="utf-8").count('"m":6') == 1 and "6 x 6 unit" in capsys.readouterr().out


def test_story_bad_input_is_one_line(tmp_path, capsys) -> None:
    assert main(["story", "--out", str(tmp_path / "s.txt")]) != 0
    assert main(["story", "--out", str(tmp_path / "s.html"), "--model", "demo"]) != 0
    np.save(tmp_path / "bad.npy", np.zeros((3, 4)))
    assert main(["story", "--out", str(tmp_path / "s.html"), "--array", str(tmp_path / "bad.npy")]) != 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 3 and "--out must end in .html" in lines[0] and "--layer and --class" in lines[1]
    assert not (tmp_path / "s.html").exists()
