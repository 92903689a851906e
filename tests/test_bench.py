"""The benchmark command, end to end on a tiny run."""

import ast
import csv
import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fairif_sklearn._quickstart import main as quickstart
from fairif_sklearn.baselines import DFRClassifier
from fairif_sklearn.bench import _cli, _methods, _report, main

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def _benchmark_script(name):
    """A developer script of benchmarks/ (not part of the package), imported from its file."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its measuring subprocesses import it by name too
    spec.loader.exec_module(module)
    return module


def _seeds_benchmark(name, argv, out, capsys):
    """Run a seeds benchmark of benchmarks/ writing ``out``.json; read its table back from that file
    (``--report``, no fits: the same table) and leave sys.path as it was. ``(module, runs, table)``."""
    import json

    bench = _benchmark_script(name)
    assert bench.main([*argv, "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert bench.main(["--report", str(out.with_suffix(".json"))]) == 0
    assert capsys.readouterr().out.strip() == table.strip()
    assert str(BENCHMARKS) not in map(os.path.abspath, sys.path)
    return bench, json.loads(out.with_suffix(".json").read_text()), table


@pytest.mark.slow
def test_tiny_run_writes_table_csv_and_png(tmp_path, capsys):
    argv = ["--seeds", "2", "--n-samples", "1500", "--eg-max-iter", "2", "--threads", "1"]
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    for method in ("ERM", "FairIF", "ERM, another initialisation", "FairIF [retrain='scratch'",
                   "FairIF [max_rounds=1]", "FairIFClassifierCV", "ThresholdOptimizer",
                   "ExponentiatedGradient", "Reweighing", "DFR", "JTT", "ERM's noise in test AOD",
                   "WGA: worst-group accuracy"):  # fmt: skip
        assert method in out
    assert "train (oracle)" in out and "annotated valid" in out and "AOD vs ERM" in out
    with open(tmp_path / "synthetic-group_size-runs.csv") as f:
        rows = list(csv.DictReader(f))
    by_method = {}
    for r in rows:
        by_method.setdefault(r["method"], []).append(r)
        assert 0.5 < float(r["acc"]) <= 1 and 0 <= float(r["AOD"]) <= 1
    assert len(by_method["FairIF"]) == 2 and {r["reweighted"] for r in by_method["FairIF"]} <= {
        "True",
        "False",
    }
    for r in by_method["FairIF"]:  # each round's temperature; the first is the fit's own temperature_
        temperatures = ast.literal_eval(r["round_temperatures"])
        assert len(temperatures) == int(r["n_rounds"]) == len(ast.literal_eval(r["steps"]))
        assert temperatures[0] == pytest.approx(float(r["temperature"]))
    # FairIF starts from the ERM row's model: same seed, same net (the ERM row is read off FairIF's own fit)
    with open(tmp_path / "synthetic-group_size-summary.csv") as f:
        summary = {r["method"]: r for r in csv.DictReader(f)}
    erm, other = summary["ERM"], summary["ERM, another initialisation (noise)"]
    assert float(summary["FairIF"]["erm_noise_AOD"]) > 0 and erm["AOD_mean"] != other["AOD_mean"]
    png = (tmp_path / "synthetic-group_size.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.slow
def test_valid_size_study(tmp_path, capsys):
    argv = ["--seeds", "1", "--n-samples", "1500", "--valid-fractions", "1", "0.5", "--threads", "1"]
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "FairIF [1 of valid]" in out and "FairIF [0.5 of valid]" in out
    assert (tmp_path / "synthetic-group_size-valid-size.png").exists()


@pytest.mark.slow
def test_prefit_net_is_debiased_from_its_own_predictions(tmp_path, capsys):
    argv = ["--seeds", "1", "--n-samples", "1500", "--prefit", "--no-variants", "--no-cv",
            "--no-fairlearn", "--threads", "1"]  # fmt: skip
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    with open(tmp_path / "synthetic-group_size-runs.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    prefit, debiased = rows["ERM, a net trained once (prefit)"], rows["FairIF [FrozenEstimator(that net)]"]
    # the prefit net is another model than FairIF's own ERM fit, and FairIF started from it
    assert prefit["AOD"] != rows["ERM"]["AOD"]
    assert debiased["reweighted"] in ("True", "False") and debiased["gaps"]
    if debiased["reweighted"] == "False":
        assert debiased["AOD"] == prefit["AOD"]


def test_random_groups_are_left_alone(tmp_path, capsys):
    argv = ["--seeds", "1", "--n-samples", "1500", "--random-groups", "--no-variants", "--no-cv",
            "--no-fairlearn", "--no-peers", "--threads", "1"]  # fmt: skip
    assert main(argv + ["--out", str(tmp_path), "-q"]) == 0
    with open(tmp_path / "synthetic-group_size-random-groups-runs.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert rows["FairIF"]["reweighted"] == "False" and rows["FairIF"]["AOD"] == rows["ERM"]["AOD"]


@pytest.mark.slow
def test_peers_run_with_worst_group_accuracy_and_group_rates(tmp_path, capsys):
    argv = ["--seeds", "2", "--n-samples", "600", "--no-variants", "--no-cv", "--no-fairlearn",
            "--threads", "1", "--out", str(tmp_path), "-q"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    for method in (_methods.DFR, _methods.JTT):
        assert _methods.GROUPS_VALID in lines[method]
    assert "WGA" in out and "WGA (pts)" in out
    with open(tmp_path / "synthetic-group_size-runs.csv") as f:
        rows = list(csv.DictReader(f))
    peers = [r for r in rows if r["method"] in (_methods.DFR, _methods.JTT)]
    assert len(peers) == 4 and {r["groups"] for r in peers} == {_methods.GROUPS_VALID}
    for r in rows:  # every row: the worst-group accuracy and each test group's TPR and TNR
        assert 0 <= float(r["WGA"]) <= float(r["acc"]) + 1e-12
        rates = [float(r[f"{rate}[{g}]"]) for rate in ("TPR", "TNR") for g in (0, 1)]
        assert all(0 <= v <= 1 for v in rates)
    dfr = next(r for r in peers if r["method"] == _methods.DFR)
    jtt = next(r for r in peers if r["method"] == _methods.JTT)
    assert float(dfr["C"]) in DFRClassifier(None).Cs
    assert int(jtt["first_epochs"]) in (1, 3) and float(jtt["lambda_up"]) in (5, 20, 50, 100)
    with open(tmp_path / "synthetic-group_size-summary.csv") as f:
        summary = {r["method"]: r for r in csv.DictReader(f)}
    assert float(summary["ERM"]["erm_noise_WGA"]) >= 0 and "TPR[1]_mean" in summary["ERM"]
    assert summary[_methods.DFR]["levels_down"] in ("True", "False")
    assert (summary[_methods.JTT]["levels_down"] == "True") == ("levels down" in lines[_methods.JTT])
    assert main(argv[:-3] + ["--no-peers", "--out", str(tmp_path / "none"), "-q"]) == 0
    assert _methods.DFR not in capsys.readouterr().out
    # DFR alone (a net too costly to fit ten times for JTT): the same DFR fits, no JTT row
    assert main(argv[:-3] + ["--peers", "dfr", "--out", str(tmp_path / "dfr"), "-q"]) == 0
    with open(tmp_path / "dfr" / "synthetic-group_size-runs.csv") as f:
        alone = [r for r in csv.DictReader(f) if r["method"] in (_methods.DFR, _methods.JTT)]
    assert [r["method"] for r in alone] == [_methods.DFR] * 2
    assert [r["AOD"] for r in alone] == [r["AOD"] for r in peers if r["method"] == _methods.DFR]


def _rows(method, wga, aod=0.05, groups="none"):
    return [
        {"method": method, "groups": groups, "seed": seed, "acc": 0.9, "WGA": w, "AD": 0.05, "AOD": aod,
         "EOD": 0.05, "TPR[0]": 0.8 + seed / 10}
        for seed, w in enumerate(wga)
    ]  # fmt: skip


def test_levels_down_is_wga_below_erm_by_more_than_its_noise():
    rows = (
        _rows("ERM", [0.80, 0.82])
        + _rows("ERM, another initialisation (noise)", [0.78, 0.83], aod=0.07)
        + _rows("levels", [0.70, 0.72], groups="annotated valid")
        + _rows("within noise", [0.80, 0.81], groups="annotated valid")
        + _rows("better", [0.90, 0.91], groups="annotated valid")
    )
    summary = {e["method"]: e for e in _report.summarise(rows)}
    assert summary["ERM"]["erm_noise_WGA"] == pytest.approx(0.015)  # mean(|0.78 - 0.80|, |0.83 - 0.82|)
    assert summary["ERM"]["erm_noise_AOD"] == pytest.approx(0.02)
    assert summary["levels"]["levels_down"] and summary["levels"]["WGA_vs_ERM_points"] == pytest.approx(-10)
    assert not summary["within noise"]["levels_down"] and not summary["better"]["levels_down"]
    assert not summary["ERM, another initialisation (noise)"]["levels_down"]
    assert summary["better"]["TPR[0]_mean"] == pytest.approx(0.85)
    table = _report.format_table(list(summary.values()), "t").splitlines()
    flagged = [line.split("  ")[0] for line in table if line.endswith(_report.LEVELS_DOWN)]
    assert flagged == ["levels"]
    assert "WGA" in table[1] and "ERM's noise in it: 0.0150" in table[-1]
    without_noise = [{**e, "erm_noise_WGA": np.nan} for e in summary.values()]
    assert _report.format_table(without_noise, "t").splitlines()[-1].startswith("WGA: worst-group accuracy")


def test_figure_legend_outside_the_axes_and_one_colour_per_method():
    from matplotlib.colors import to_rgba

    summary = _report.summarise(
        [row for k in range(15) for row in _rows(f"method {k}", [0.8, 0.8], aod=0.01 * k)]
    )
    fig = _report.figure(summary, "t")
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend, axes_box = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 >= axes_box.x1  # to the right of the axes: it covers no point
    colours = [to_rgba(container.lines[0].get_color()) for container in ax.containers]
    assert len(colours) == 15 and len(set(colours)) == 15
    assert len(set(map(to_rgba, _report.colours(40)))) == 40
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize("dataset", ["ci-mnist", "adult"])
def test_real_data_sets_need_their_files(tmp_path, dataset, offline, capsys):
    argv = ["--dataset", dataset, "--data-home", str(tmp_path / "nowhere"), "--seeds", "1", "-q"]
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert "FAIRIF_DATA" in capsys.readouterr().err


@pytest.mark.slow
def test_stage1_benchmark_measures_the_same_scores_every_way(tmp_path, capsys):
    import json

    stage1_main = _benchmark_script("stage1").main

    sizes = ["--n", "1500", "--scores-n", "1500", "--scores-n-image", "300", "--backends-n", "800",
             "--sizes", "3000", "--grid-n", "1500"]  # fmt: skip
    argv = ["--repeats", "1", "--threads", "1", *sizes, "--no-real-data", "--out", str(tmp_path / "s1.json")]
    assert stage1_main(argv) == 0
    report = json.loads((tmp_path / "s1.json").read_text())
    out = capsys.readouterr().out
    assert (
        "stage 1 (the defaults) against one ERM epoch" in out
        and "a whole default FairIFClassifier.fit" in out
    )
    for r in report["whole_fit"]:
        # figures, not timed assertions: each ratio is a finite, positive measurement
        ratios = [r["fairif_in_erm_fits"], r["one_round_in_erm_fits"], r["cv_in_erm_fits"]]
        assert all(0 < ratio < float("inf") for ratio in ratios) and r["rounds"] in (0, 1, 2)
    for r in report["stage1_vs_epoch"]:
        assert r["stage1_s"] > 0 and r["erm_epoch_s"] > 0
    for r in report["scores"]:  # the baselines compute the JVP's scores
        for how in ("per_sample_batched", "per_sample_full"):
            if how in r:
                assert r[how]["max_rel_diff_vs_jvp"] < 1e-4
    exact, *others = report["backends"]
    assert exact["backend"] == "exact"
    cg = next(b for b in others if b["backend"] == "cg (Gauss-Newton)")
    assert cg["score_correlation_with_exact"] > 0.999 and cg["gap_change_rel_diff_vs_exact"] < 0.01
    assert [g["n"] for g in report["growth"]] == [3000]
    assert report["grid_search"]["same_results"]


@pytest.mark.slow
def test_versions_benchmark_gives_one_checkout_the_same_scores_twice(shared_data, tmp_path, capsys):
    # the same checkout on both sides: the same damping, iterations and scores, in separate processes
    import json

    versions_main = _benchmark_script("versions").main
    root = str(BENCHMARKS.parent)
    argv = [root, root, "--n", "1000", "--epochs", "1", "--repeats", "1", "--threads", "1",
            "--out", str(tmp_path / "v.json")]  # fmt: skip
    assert versions_main(argv) == 0
    first, second = json.loads((tmp_path / "v.json").read_text())["runs"]
    assert first["damping"] == second["damping"] and first["cg_iterations"] == second["cg_iterations"]
    assert min(second["rank_correlation_with_first"]) == pytest.approx(1.0)
    assert first["stage1_s"] > 0 and first["epoch_s"] > 0 and first["finetune_s"] > 0
    assert first["stage1_again_s"] > 0 and len(first["stage1_first_and_again_s"]) == 1
    assert first["finetune_checksum"] == second["finetune_checksum"]  # the same training, bit for bit
    assert "stage 1" in capsys.readouterr().out
    # benchmarks/ stays off sys.path: its distributed.py would shadow Dask's for later tests
    assert str(BENCHMARKS) not in map(os.path.abspath, sys.path)


@pytest.mark.slow
def test_temperature_benchmark_judges_on_the_half_that_did_not_drive_the_fit(tmp_path, capsys):
    argv = ["--datasets", "synthetic:group_shift", "--seeds", "2", "--temperatures", "1", "3"]
    _, runs, out = _seeds_benchmark("temperature", argv, tmp_path / "t", capsys)
    assert [(r["seed"], r["param"], r["value"]) for r in runs] == [
        (0, "temperature", 1.0), (0, "temperature", 3.0), (1, "temperature", 1.0), (1, "temperature", 3.0)
    ]  # fmt: skip
    for first, second in (runs[:2], runs[2:]):  # both temperatures start from the same ERM model
        assert first["erm"] == second["erm"] and first["erm_rates"] == second["erm_rates"]
    # each group's rates on the judging half, as fairif-bench's runner names them
    assert {"TPR[0]", "TPR[1]", "TNR[0]", "TNR[1]"} <= set(runs[0]["fairif_rates"])
    data = _benchmark_script("heldout").load("synthetic:group_shift", 0)  # the draw temperature.py runs on
    half = len(data.y_valid) - len(data.y_valid) // 2
    # judged on the other half: its ERM accuracy is a multiple of 1 / (rows in that half)
    assert runs[0]["erm"]["acc"] * half == pytest.approx(round(runs[0]["erm"]["acc"] * half))
    assert "synthetic:group_shift: 2 seeds" in out and "temperature 3 - 1, paired over seeds" in out
    assert "each group's rates on the judging half" in out and "TNR[1]" in out


def test_second_round_temperature_benchmark_refits_only_where_the_default_ran_two_rounds(
    tmp_path, capsys, monkeypatch
):
    import fairif_sklearn.bench._methods as methods
    from fairif_sklearn._influence._gaps import TEMPERATURE_GRID

    real, calls = methods.fairif, []

    def default_said_two_rounds(data, seed, memory, **params):
        """The bench's FairIF runner, its default fit of seed 1 reporting two rounds (the synthetic data
        need one at most), so that the variant runs there and only there."""
        calls.append((seed, params))
        erm, result, net = real(data, seed, memory, **params)
        if seed == 1 and params == {"later_temperature": "same"}:
            result.extra["n_rounds"] = 2
        return erm, result, net

    monkeypatch.setattr(methods, "fairif", default_said_two_rounds)  # before the script imports it
    argv = ["--datasets", "synthetic:group_shift", "--seeds", "2"]
    _, runs, out = _seeds_benchmark("second_round_temperature", argv, tmp_path / "s", capsys)
    assert [(r["seed"], r["value"]) for r in runs] == [(0, 1.0), (0, "auto"), (1, 1.0), (1, "auto")]
    assert [seed for seed, _ in calls] == [0, 1, 1]  # the second round's fit for seed 1 only
    assert calls[0][1] == {"later_temperature": "same"}  # the baseline: the earlier default
    assert calls[2][1]["temperature"] == "auto" and calls[2][1]["max_rounds"] == 1
    assert type(calls[2][1]["estimator"]).__name__ == "FrozenEstimator"
    assert runs[1]["fairif"] == runs[0]["fairif"] and runs[1]["temperature"] is None  # one round: the same
    assert runs[3]["temperature"] in TEMPERATURE_GRID and runs[3]["rounds"] in (1, 2)
    assert runs[2]["erm"] == runs[3]["erm"]  # both against the seed's one ERM model
    assert "round 2 at auto - 1, paired over seeds" in out


@pytest.mark.slow
def test_heldout_benchmark_varies_any_parameter_from_one_erm_model(tmp_path, capsys):
    argv = [
        "--datasets",
        "synthetic:group_shift",
        "--seeds",
        "1",
        "--param",
        "max_rounds",
        "--values",
        "auto",
        "1",
    ]
    heldout, runs, out = _seeds_benchmark("heldout", argv, tmp_path / "h", capsys)
    assert [(r["param"], r["value"]) for r in runs] == [("max_rounds", "auto"), ("max_rounds", 1)]
    assert runs[0]["erm"] == runs[1]["erm"] and runs[1]["rounds"] <= 1  # the value reached the fit
    assert [heldout.parse_value(v) for v in ("auto", "3", "0.5")] == ["auto", 3, 0.5]
    assert "max_rounds 1 - auto, paired over seeds" in out and "ERM -> each max_rounds" in out


def test_heldout_benchmark_passes_its_net_options_to_the_loader():
    # --net, --rows, --erm-epochs reach heldout.load (another net is for CI-MNIST only)
    heldout = _benchmark_script("heldout")
    argv = ["--datasets", "synthetic:group_shift", "--seeds", "1", "--param", "max_rounds", "--values", "1"]
    with pytest.raises(ValueError, match="another net or ERM epochs are for CI-MNIST"):
        heldout.main([*argv, "--net", "resnet", "--rows", "300"])


@pytest.mark.slow
def test_finetune_response_benchmark_scales_one_weight_change(tmp_path, capsys):
    argv = ["--datasets", "synthetic:group_shift", "--seeds", "1"]
    bench, runs, out = _seeds_benchmark("finetune_response", argv, tmp_path / "f", capsys)
    assert runs[0]["chased"] and [r["scale"] for r in runs] == [0.0, *bench.SCALES]
    noise, *scaled = runs
    full = scaled[-1]
    for r in scaled:  # one weight change, scaled: the prediction is linear in it
        np.testing.assert_allclose(r["predicted"], r["scale"] * np.asarray(full["predicted"]))
        assert r["weight_std"] == pytest.approx(r["scale"] * full["weight_std"], rel=1e-6)
    assert noise["weight_std"] == pytest.approx(bench.NOISE, rel=0.1) and noise["moved"] < full["moved"]
    assert "u = 1e-06 z (noise)" in out and "u = 0.5 (w - 1)" in out


def test_finetune_response_benchmark_compares_the_fine_tune_s_solvers(tmp_path, capsys):
    argv = ["--datasets", "synthetic:group_shift", "--seeds", "1", "--solvers", "net", "nesterov"]
    bench, runs, out = _seeds_benchmark("finetune_response", argv, tmp_path / "s", capsys)
    by = {(r["solver"], r["scale"]): r for r in runs}
    assert set(by) == {(v, s) for v in ("net", "nesterov") for s in (0.0, *bench.SCALES)}
    for scale in bench.SCALES:  # the same weights and predictions for both solvers
        assert by["net", scale]["predicted"] == by["nesterov", scale]["predicted"]
    # weights that predict nothing: Nesterov at the curvature's step barely moves, Adam moves on
    assert by["nesterov", 0.0]["moved"] < 1e-4 * by["nesterov", 1.0]["moved"]
    assert by["net", 0.0]["moved"] > 100 * by["nesterov", 0.0]["moved"]
    assert "solver net" in out and "solver nesterov" in out


def test_finetune_solver_benchmark_starts_both_solvers_from_one_erm_fit(tmp_path, capsys):
    argv = ["--datasets", "synthetic:group_shift", "--seeds", "1"]
    bench, runs, out = _seeds_benchmark("finetune_solver", argv, tmp_path / "v", capsys)
    assert [r["value"] for r in runs] == list(bench.SOLVERS)
    net, nesterov = runs
    assert net["erm"] == nesterov["erm"] and net["erm_rates"] == nesterov["erm_rates"]
    assert net["fairif"] != nesterov["fairif"]  # the fine-tunes differ
    assert "     solver  acc (pts)" in out and "seed 0  nesterov: AOD" in out and "TPR[1]" in out


@pytest.mark.slow
def test_cv_temperatures_benchmark_judges_every_model_on_the_test_split(tmp_path, capsys):
    argv = ["--datasets", "synthetic:group_shift", "--seeds", "1"]
    bench, (run,), out = _seeds_benchmark("cv_temperatures", argv, tmp_path / "c", capsys)
    assert list(run["fits"]) == list(bench.METHODS) and set(run["reweighted"]) == set(bench.METHODS)
    assert set(run["erm"]) >= {"AOD", "EOD", "acc", "WGA"}
    # the chosen candidate's temperature: NaN where the CV kept ERM, else one of the two on its path
    chosen = run["temperature_chosen"]
    assert (chosen in (1.0, 3.0)) == run["reweighted"][bench.METHODS[2]]
    assert "synthetic:group_shift: 1 seeds, test split" in out and "temperature chosen" in out
    # each group's test rates under each model, ERM's first: how the gaps closed
    assert set(run["rates"]) == set(bench.METHODS) and set(run["erm_rates"]) == set(run["rates"]["FairIF"])
    assert "each group's test rates" in out and "TPR[1]" in out


@pytest.mark.parametrize(
    "args, says",
    [
        (["--seeds", "0"], r"--seeds: expected an integer of at least 1, got 0"),
        (["--threads", "abc"], r"--threads: expected 'auto' or an integer, got 'abc'"),
        (["--threads", "0"], r"--threads: expected 'auto' or an integer of at least 1, got 0"),
        (["--valid-fractions", "1", "0"], r"--valid-fractions: expected a fraction in \(0, 1\], got 0"),
        (["--valid-fractions", "2"], r"--valid-fractions: expected a fraction in \(0, 1\], got 2"),
        (["--eg-max-iter", "0"], r"--eg-max-iter: expected an integer of at least 1"),
        (["--max-epochs", "-1"], r"--max-epochs: expected an integer of at least 1"),
        (["--first-seed", "-1"], r"--first-seed: expected an integer of at least 0"),
        (["--device", "nonsense"], r"--device: expected a torch device such as cpu or cuda, got 'nonsense'"),
    ],
)
def test_a_bad_argument_is_a_usage_error_that_names_it(args, says, capsys):
    # argparse's usage error (exit status 2) before any work, not a traceback from inside a fit
    with pytest.raises(SystemExit) as stop:
        main(args + ["-q"])
    assert stop.value.code == 2
    assert re.search(says, capsys.readouterr().err)


@pytest.mark.parametrize(
    "args, says",
    [
        (["--seeds", "0"], r"--seeds: expected an integer of at least 1"),
        (["--n-annotated", "6000"], r"--n-annotated \(6000\) must be below --n-samples \(6000\)"),
        (["--threads", "x"], r"--threads: expected 'auto' or an integer"),
    ],
)
def test_quickstart_bad_argument_is_a_usage_error(args, says, capsys):
    with pytest.raises(SystemExit) as stop:
        quickstart(args)
    assert stop.value.code == 2
    assert re.search(says, capsys.readouterr().err)


@pytest.mark.slow
def test_survey_weights_benchmark_fits_with_and_without_the_weights(tmp_path, capsys):
    argv = ["--datasets", "synthetic:group_shift", "--seeds", "1"]
    bench, (run,), out = _seeds_benchmark("survey_weights", argv, tmp_path / "w", capsys)
    fits = run["fits"]
    assert list(fits) == list(bench.MODELS)
    # the weights reached the fit (the annotated gaps it measured) and the judging (other figures)
    assert fits["FairIF"]["annotated_gaps"] != fits["FairIF, weighted"]["annotated_gaps"]
    assert fits["ERM"]["population"]["AOD"] != fits["ERM"]["rows"]["AOD"]
    for peer in ("DFR", "JTT"):  # the peers were given them too
        assert fits[peer]["rows"] != fits[f"{peer}, weighted"]["rows"]
    y, pred, s = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), np.array([0, 0, 1, 1])
    by_hand = bench.figures(y, pred, s, np.array([1.0, 1.0, 3.0, 1.0]))
    assert by_hand["acc"] == pytest.approx(3 / 6) and by_hand["rates"]["TPR[1]"] == 0.0
    assert "the test rows weighted" in out and "every test row once" in out and "TNR[1]" in out
    assert re.search(r"JTT, weighted .*[+-]\d+%", out)  # judged against the weighted ERM fit


def test_the_help_states_the_run_time_the_readme_measured():
    # the help of fairif-bench repeats README's measured range; a new measurement changes both
    readme = (Path(__file__).parents[1] / "README.rst").read_text()
    measured = re.search(r"``fairif-bench`` \((\d+) to (\d+)\s+s", readme)
    assert measured, "README no longer states fairif-bench's measured run time"
    stated = f"{measured[1]} to {measured[2]} s measured on two cores"
    assert stated in _cli.__doc__.replace("\n", " ")
    assert stated in _cli.DESCRIPTION.replace("\n", " ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_usage_error(capsys):
    for command in (main, quickstart):
        with pytest.raises(SystemExit) as stop:
            command(["--device", "cuda", "--seeds", "1"])
        assert stop.value.code == 2
        assert "--device: cuda: this torch sees no CUDA device (use --device cpu)" in capsys.readouterr().err


def test_results_page_tables_are_what_results_tables_makes_of_the_committed_runs(tmp_path):
    # the .rst tables the results page includes are generated, never edited by hand: regenerating them
    # from the committed CSV files gives the committed files, byte for byte
    results = Path(__file__).parents[1] / "doc" / "results"
    copy = tmp_path / "results"
    copy.mkdir()
    for path in results.glob("*.csv"):
        (copy / path.name).write_bytes(path.read_bytes())
    assert _benchmark_script("results_tables").main([str(copy)]) == 0
    written = sorted(p.name for p in copy.glob("*.rst"))
    assert "ci-mnist-group_shift-resnet-seeds.rst" in written and "defaults.rst" in written
    for name in written:
        assert (copy / name).read_text() == (results / name).read_text(), name


def test_per_seed_table_says_what_fairif_did_on_each_seed():
    tables = _benchmark_script("results_tables")
    erm = {"method": "ERM", "acc": "0.99", "AOD": "0.02"}
    fairif = {"method": "FairIF", "acc": "0.98", "AOD": "0.01", "gaps": "[0.03, -0.02]",
              "gaps_stderr": "[0.005, 0.004]", "final_gaps": "[0.01, -0.01]",
              "materialization": "[0.5, nan]"}  # fmt: skip
    runs = [
        {**erm, "seed": "0"}, {**fairif, "seed": "0", "reweighted": "False", "steps": "[]"},
        {**erm, "seed": "1"}, {**fairif, "seed": "1", "reweighted": "False", "steps": "[0.0]"},
        {**erm, "seed": "2"},
        {**fairif, "seed": "2", "reweighted": "True", "steps": "[1.0, 0.5]",
         "round_temperatures": "[1.0, 4.25]"},
        {**erm, "seed": "10"}, {**fairif, "seed": "10", "reweighted": "True", "steps": "[1.0]"},
    ]  # fmt: skip
    rows = tables.per_seed(runs).split("   * - ")[2:]
    assert [r.split("\n")[0] for r in rows] == ["0", "1", "2", "10"]  # numeric order
    assert "every gap within noise: ERM kept" in rows[0] and "round rejected: ERM kept" in rows[1]
    assert "0.030, -0.020 (0.005, 0.004)" in rows[0]
    assert "2 rounds (steps 1, 0.5; temperatures 1, 4.25); gaps to 0.010, -0.010" in rows[2]
    assert "(first round's materialisation 0.50, nan)" in rows[2]
    assert "1 round (steps 1); gaps to" in rows[3]  # no temperature column for an older run


def test_merged_runs_are_what_one_run_over_all_the_seeds_wrote(tmp_path):
    # a study split over processes, merged: the committed 10-seed Adult run (CV rows included), cut
    # by seed into two folders and merged back, gives that run's summary and runs CSVs byte for byte
    tables = _benchmark_script("results_tables")
    runs = Path(__file__).parents[1] / "doc" / "results" / "adult-sex-runs.csv"
    with open(runs) as f:
        rows = list(csv.DictReader(f))
    for part, seeds in (("a", range(4)), ("b", range(4, 10))):
        (tmp_path / part).mkdir()
        with open(tmp_path / part / runs.name, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows([r for r in rows if int(r["seed"]) in seeds])
    argv = ["--merge", str(tmp_path / "a"), str(tmp_path / "b"), "--into", str(tmp_path / "out")]
    assert tables.main(argv + ["--prefix", "x-"]) == 0
    out = tmp_path / "out"
    assert (out / "x-adult-sex-runs.csv").read_text() == runs.read_text()
    summary = runs.with_name("adult-sex-summary.csv")
    assert (out / "x-adult-sex-summary.csv").read_text() == summary.read_text()
    assert "over 10 seeds" in (out / "x-adult-sex.txt").read_text() and (out / "x-adult-sex.png").exists()
    with pytest.raises(ValueError, match="share a seed"):
        tables.merge([tmp_path / "a", tmp_path / "a"], tmp_path / "again")
