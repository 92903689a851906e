"""doc/scripts/paper_image_protocol.py (the paper's image protocol) runs end to end on a fake FairFace."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "doc" / "scripts" / "paper_image_protocol.py"

pytestmark = pytest.mark.slow


def _fake_fairface(home: Path, n_train: int = 80, n_val: int = 48) -> None:
    """FairFace's layout with small one-colour images: women red, men blue, a third of the rows White."""
    from PIL import Image

    folder = home / "fairface"
    for split, n in (("train", n_train), ("val", n_val)):
        (folder / split).mkdir(parents=True)
        lines = ["file,age,gender,race,service_test"]
        for i in range(n):
            gender = ("Male", "Female")[i % 2]
            race = "White" if i % 3 == 0 else "Black"
            colour = (40, 90, 200) if gender == "Male" else (220, 60, 60)
            if race == "White" and i % 4 == 0:  # some hard rows in one group
                colour = colour[::-1]
            Image.new("RGB", (20, 20), colour).save(folder / split / f"{i}.jpg")
            lines.append(f"{split}/{i}.jpg,20-29,{gender},{race},False")
        (folder / f"fairface_label_{split}.csv").write_text("\n".join(lines) + "\n")


def test_the_protocol_script_runs_on_fairface(tmp_path, capsys):
    pytest.importorskip("PIL")
    _fake_fairface(tmp_path)
    spec = importlib.util.spec_from_file_location("paper_image_protocol", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    args = ["--dataset", "fairface", "--arch", "resnet-layout", "--device", "cpu", "--epochs", "2",
            "--batch-size", "32", "--image-size", "16", "--fairface-group", "White",
            "--data-home", str(tmp_path)]  # fmt: skip
    assert script.main(args) == 0
    out = capsys.readouterr().out
    assert "fairface: 80 training, 24 annotated, 24 test images" in out
    assert "ERM      accuracy" in out and "FairIF   accuracy" in out and "ms per image and epoch" in out
