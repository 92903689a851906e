"""FairIF with a skorch AccelerateMixin net on two CPU processes (torchrun, gloo) against one process.

The job (tests/_accelerate_job.py) runs once in one process and once under
``torchrun --standalone --nproc_per_node 2``; both start from the same trained
parameters, so stage 1 must agree to rounding, while the data-parallel trainings
must keep their processes in step and the weights with their rows.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("accelerate", reason='needs accelerate: pip install "fairif-sklearn[accelerate]"')
pytestmark = pytest.mark.slow

JOB = Path(__file__).with_name("_accelerate_job.py")


def _run(command, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from ._accelerate_job import data, make_net

    tmp = tmp_path_factory.mktemp("accelerate")
    X, y, _ = data()
    torch.manual_seed(0)
    net = make_net().fit(X[1000:], y[1000:])
    net.save_params(f_params=str(tmp / "params.pt"))
    _run([sys.executable, str(JOB), "params.pt", "one.npz"], tmp)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    _run([*torchrun, str(JOB), "params.pt", "two.npz"], tmp)
    return np.load(tmp / "one.npz"), np.load(tmp / "two.npz")


def test_the_job_ran_on_one_and_on_two_processes(runs):
    one, two = runs
    assert int(one["n_processes"]) == 1 and int(two["n_processes"]) == 2


def test_stage1_split_over_two_processes_gives_the_one_process_scores_and_weights(runs):
    one, two = runs
    scale = np.abs(one["prefit_scores"]).max()
    np.testing.assert_allclose(two["prefit_scores"], one["prefit_scores"], rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(two["prefit_weights"], one["prefit_weights"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(two["prefit_gaps"], one["prefit_gaps"], rtol=1e-6)


def test_data_parallel_stage2_moves_the_gaps_as_one_process_does(runs):
    one, two = runs
    agree = np.mean(one["prefit_proba"].argmax(1) == two["prefit_proba"].argmax(1))
    assert agree > 0.97
    moved_one = one["prefit_gaps"] - one["prefit_final_gaps"]
    moved_two = two["prefit_gaps"] - two["prefit_final_gaps"]
    assert np.all(np.sign(moved_two) == np.sign(moved_one))  # both close the gaps
    assert np.all(np.abs(moved_two) > 0.5 * np.abs(moved_one))


def test_the_processes_train_in_step(runs):
    _, two = runs
    erm, final = two["scratch_erm_checksums"], two["scratch_final_checksums"]
    assert erm[0] == erm[1] and final[0] == final[1]  # DDP kept both copies identical
    assert erm[0] != final[0]  # and stage 2 moved them
    assert two["scratch_accuracy"] > 0.85
    assert np.all(np.abs(two["scratch_final_gaps"]) < np.abs(two["scratch_gaps"]))


def test_sample_weights_travel_with_their_rows(runs):
    # every positive row has weight zero: if any process paired a positive row with another row's
    # weight, positives would count and the net would predict some
    one, two = runs
    assert float(one["weighted_positive_rate"]) == 0.0 and float(two["weighted_positive_rate"]) == 0.0


def test_the_documented_script_runs_on_two_processes(tmp_path):
    script = Path(__file__).parents[1] / "doc" / "scripts" / "fairif_accelerate.py"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    output = _run([*torchrun, str(script)], tmp_path)
    assert output.count("2 process(es): gaps") == 1  # printed by the main process only
