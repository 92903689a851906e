"""What a fit leaves behind when it fails, and what it says.

A KeyboardInterrupt or a NaN loss is injected in each stage (the ERM fit, stage
1's influence, the fine-tune or stage 2's weighted fit) of FairIFClassifier and
of FairIFClassifierCV's folds, and an out-of-memory error in stage 1. Whatever
fails, the user's net and arrays, torch's global settings (threads, default
dtype, random state) and the package logger are as they were, no temporary
folder is left, a KeyboardInterrupt is a KeyboardInterrupt, and a NaN is an
error that names its stage and what to try. And the progress messages:
through the package logger, shown with ``verbose`` as ``print`` showed them.
"""

import logging
import os
import sys
import tempfile

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator
from skorch import NeuralNet
from skorch.callbacks import Callback

from fairif_sklearn import FairIFClassifier, FairIFClassifierCV, WeightedNetClassifier
from fairif_sklearn._skorch import NetFunctions
from fairif_sklearn.datasets import make_biased_classification

from ._helpers import partial_groups, small_net

NAN_ERRORS = {
    "erm": r"The ERM fit diverged: .*not finite\. Try a smaller learning rate",
    "influence": r"Influence \(stage 1\) is not finite: .* Try more damping",
    "scratch": r"Stage 2 \(retrain='scratch'\) diverged: .*not finite\. Try a smaller learning rate",
    "finetune": r"The fine-tune \(stage 2\) diverged: .*not finite\. Try a smaller learning rate.*damping",
}


@pytest.fixture(scope="module")
def data():
    X, y, s = make_biased_classification(600, bias="group_shift", random_state=0)
    return X, y, partial_groups(s, 240)


class Fault:
    """A KeyboardInterrupt or a NaN loss in one stage, injected through skorch's and the adapter's methods.

    ``stage`` is ``"erm"``, ``"finetune"`` or ``"scratch"`` (stage 2's weighted
    fit) with ``training``: the fault hits the ``training``-th training of a net
    in the fit (1: the first ERM fit; with ``tolerance=0`` the next is stage 2);
    ``"influence"``: stage 1's losses.
    The nets trained are kept, to check what a failed training leaves on them.
    """

    def __init__(self, monkeypatch, stage, kind, training=None):
        self.stage, self.kind, self.hits, self.trained = stage, kind, 0, []
        self.training = training or {"erm": 1, "finetune": 2, "scratch": 2}.get(stage)
        partial_fit, train_step, get_loss = NeuralNet.partial_fit, NeuralNet.train_step, NeuralNet.get_loss
        loss_from_output = NetFunctions.loss_from_output
        fault = self

        def counting_partial_fit(net, *args, **kwargs):  # every skorch fit trains through it
            fault.trained.append((net, type(net)))
            return partial_fit(net, *args, **kwargs)

        def failing_train_step(net, batch, **kwargs):
            if fault.active() and fault.kind == "interrupt":
                fault.hits += 1
                raise KeyboardInterrupt
            return train_step(net, batch, **kwargs)

        def nan_get_loss(net, y_pred, y_true, X=None, training=False):
            loss = get_loss(net, y_pred, y_true, X=X, training=training)
            if training and fault.active() and fault.kind == "nan":
                fault.hits += 1
                return loss * float("nan")
            return loss

        def failing_loss_from_output(model, out, y):
            if fault.stage == "influence":
                fault.hits += 1
                if fault.kind == "interrupt":
                    raise KeyboardInterrupt
                if fault.kind == "oom":
                    raise torch.OutOfMemoryError("CUDA out of memory (injected)")
                return loss_from_output(model, out, y) * float("nan")
            return loss_from_output(model, out, y)

        monkeypatch.setattr(NeuralNet, "partial_fit", counting_partial_fit)
        monkeypatch.setattr(NeuralNet, "train_step", failing_train_step)
        monkeypatch.setattr(NeuralNet, "get_loss", nan_get_loss)
        monkeypatch.setattr(NetFunctions, "loss_from_output", failing_loss_from_output)

    def active(self) -> bool:
        return self.stage != "influence" and len(self.trained) == self.training

    def raises(self):
        if self.kind == "interrupt":
            return pytest.raises(KeyboardInterrupt)
        if self.kind == "oom":
            return pytest.raises(torch.OutOfMemoryError, match="injected")
        return pytest.raises(FloatingPointError, match=NAN_ERRORS[self.stage])


def _global_state():
    return {
        "threads": torch.get_num_threads(),
        "dtype": torch.get_default_dtype(),
        "torch_rng": torch.random.get_rng_state(),
        "numpy_rng": np.random.get_state()[1].copy(),  # noqa: NPY002 (the global state is what is checked)
        "grad": torch.is_grad_enabled(),
        "handlers": list(logging.getLogger("fairif_sklearn").handlers),
        "level": logging.getLogger("fairif_sklearn").level,
    }


def _assert_same_state(before):
    after = _global_state()
    for key, value in before.items():
        if isinstance(value, torch.Tensor | np.ndarray):
            assert np.array_equal(np.asarray(value), np.asarray(after[key])), key
        else:
            assert after[key] == value, key


def _net_state(net):
    """What the user's net is: its class, its parameters, its attributes, and a fitted module's weights."""
    module = getattr(net, "module_", None)
    weights = {k: v.clone() for k, v in module.state_dict().items()} if module is not None else {}
    return type(net), sorted(vars(net)), net.get_params(deep=False), weights


def _assert_net_unchanged(net, before):
    cls, attributes, params, weights = _net_state(net)
    assert cls is before[0] and attributes == before[1]
    assert params.keys() == before[2].keys()
    assert all(params[k] is before[2][k] or params[k] == before[2][k] for k in params)
    assert weights.keys() == before[3].keys()
    assert all(torch.equal(weights[k], before[3][k]) for k in weights)


def _assert_trained_nets_restored(fault, user_class):
    """A net that training stopped in has its class back, and nothing of FairIF's left on it."""
    for net, cls in fault.trained:
        assert type(net) is user_class and cls.__name__.endswith(user_class.__name__)
        assert not [k for k in vars(net) if k.startswith("_fairif") or k == "fit_loop"]


def _run(fault, make_estimator, data, user_net, tmp_path, monkeypatch):
    X, y, groups = data
    arrays = [a.copy() for a in (X, y, groups)]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkdtemp makes folders
    before, net_before = _global_state(), _net_state(user_net)
    with fault.raises():
        make_estimator(user_net).fit(X, y, sensitive_features=groups)
    assert fault.hits > 0, "the fault was not reached"
    _assert_same_state(before)
    _assert_net_unchanged(user_net, net_before)
    for given, copy_ in zip((X, y, groups), arrays, strict=True):
        assert np.array_equal(given, copy_, equal_nan=True)
    # nothing of FairIF's (torch makes its own compile cache there the first time it needs one)
    assert [e for e in os.listdir(tmp_path) if not e.startswith("torchinductor_")] == []
    _assert_trained_nets_restored(fault, type(getattr(user_net, "estimator", user_net)))


def _fairif(net):
    return FairIFClassifier(net, tolerance=0.0, random_state=0)


@pytest.mark.parametrize("kind", ["interrupt", "nan"])
@pytest.mark.parametrize("stage", ["erm", "influence", "finetune"])
def test_fault_in_a_stage_of_fairif_leaves_nothing_behind(data, stage, kind, monkeypatch, tmp_path):
    fault = Fault(monkeypatch, stage, kind)
    _run(fault, _fairif, data, small_net(data[0].shape[1]), tmp_path, monkeypatch)


@pytest.mark.parametrize("kind", ["interrupt", "nan"])
@pytest.mark.parametrize("stage", ["influence", "finetune"])
def test_fault_after_a_prefit_net_leaves_its_weights(data, stage, kind, monkeypatch, tmp_path):
    X, y, groups = data
    net = small_net(X.shape[1]).fit(X.astype(np.float32), y)
    fault = Fault(monkeypatch, stage, kind, training=1)  # no ERM fit: the fine-tune is the first training
    _run(fault, _fairif, data, FrozenEstimator(net), tmp_path, monkeypatch)


@pytest.mark.parametrize(
    ("stage", "kind", "training"),
    [
        ("erm", "interrupt", 1),
        ("influence", "interrupt", None),
        ("erm", "nan", 1),  # one ERM fit for every fold: the folds hold out annotated rows only
        ("finetune", "nan", 2),
        ("finetune", "interrupt", 3),  # the second fold's, after the first fold's fits are cached
    ],
)
def test_fault_in_a_fold_of_the_cv_removes_its_temporary_folder(
    data, stage, kind, training, monkeypatch, tmp_path
):
    fault = Fault(monkeypatch, stage, kind, training=training)
    made = []
    mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        made.append(mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)

    def cv(net):
        return FairIFClassifierCV(_fairif(net), cv=2, max_rounds=1, closures=(1.0,))

    _run(fault, cv, data, small_net(data[0].shape[1]), tmp_path, monkeypatch)
    assert [os.path.basename(m).startswith("fairif_cv_") for m in made] == [True]


@pytest.mark.parametrize("cv", [False, True])
def test_out_of_memory_in_stage1_leaves_nothing_behind(data, cv, monkeypatch, tmp_path):
    """An out-of-memory error in stage 1 (the curvature's batches) reaches the user as it is."""
    fault = Fault(monkeypatch, "influence", "oom")

    def fairif(net):
        if cv:
            return FairIFClassifierCV(_fairif(net), cv=2, max_rounds=1, closures=(1.0,))
        return _fairif(net)

    _run(fault, fairif, data, small_net(data[0].shape[1]), tmp_path, monkeypatch)


def test_nan_influence_with_the_exact_solve_and_a_set_damping(data, monkeypatch, tmp_path):
    """A NaN curvature does not reach eigh (which fails to converge): the error names stage 1."""
    fault = Fault(monkeypatch, "influence", "nan")

    def fairif(net):
        return FairIFClassifier(net, influence="exact", damping=1e-2, tolerance=0.0, random_state=0)

    _run(fault, fairif, data, small_net(data[0].shape[1]), tmp_path, monkeypatch)


@pytest.mark.parametrize("kind", ["interrupt", "nan"])
def test_fault_in_a_weighted_fit_from_scratch(data, kind, monkeypatch, tmp_path):
    """Stage 2 with retrain="scratch" is the weighted fit: a NaN there names stage 2 too."""
    fault = Fault(monkeypatch, "scratch", kind)

    def fairif(net):
        return FairIFClassifier(net, retrain="scratch", tolerance=0.0, random_state=0)

    _run(fault, fairif, data, small_net(data[0].shape[1]), tmp_path, monkeypatch)


class Rows(torch.utils.data.Dataset):
    def __init__(self, X, y):
        self.X, self.y = X.astype(np.float32), y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def test_a_fit_on_a_dataset_leaves_torchs_random_state(data):
    """Rows of a Dataset are read through DataLoaders, which draw a seed from torch's generator."""
    X, y, groups = data
    state = torch.random.get_rng_state()
    FairIFClassifier(small_net(X.shape[1]), tolerance=0.0, random_state=0).fit(
        Rows(X, y), y, sensitive_features=groups
    )
    assert torch.equal(torch.random.get_rng_state(), state)


class StopAtEpoch(Callback):
    """A callback that stops training the skorch way, as EarlyStopping does."""

    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_a_callback_that_stops_training_is_not_an_interrupt(data):
    X, y, groups = data
    net = small_net(X.shape[1], callbacks=[("stop", StopAtEpoch(2))])
    clf = FairIFClassifier(net, tolerance=0.0, random_state=0).fit(X, y, sensitive_features=groups)
    assert len(clf.erm_estimator_.history) == 2 and clf.rounds_


def test_interrupted_weighted_fit_restores_the_class(data, monkeypatch):
    """The weighted fit (stage 2 from scratch, WeightedNetClassifier) trains the net itself: after an
    interrupt it is the user's class again."""
    from fairif_sklearn._skorch import fit_net

    X, y, _ = data
    fault = Fault(monkeypatch, "erm", "interrupt", training=1)
    net = small_net(X.shape[1])
    with fault.raises():
        fit_net(net, X.astype(np.float32), y, np.ones(len(y)))
    assert fault.hits == 1
    _assert_trained_nets_restored(fault, type(small_net(X.shape[1])))


# progress messages


def test_verbose_shows_the_messages_on_stdout_and_leaves_the_logger_as_it_was(data, capsys):
    X, y, groups = data
    handlers = list(logging.getLogger("fairif_sklearn").handlers)
    FairIFClassifier(small_net(X.shape[1]), verbose=1, random_state=0).fit(X, y, sensitive_features=groups)
    out, err = capsys.readouterr()
    assert "[FairIF] ERM fit on" in out and "[FairIF] influence (exact) on" in out
    assert "[FairIF]" not in err
    assert logging.getLogger("fairif_sklearn").handlers == handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]
    assert logging.getLogger("fairif_sklearn").level == logging.NOTSET


def test_verbose_zero_logs_and_prints_nothing(data, capsys, caplog):
    X, y, groups = data
    with caplog.at_level(logging.DEBUG, logger="fairif_sklearn"):
        FairIFClassifier(small_net(X.shape[1]), random_state=0).fit(X, y, sensitive_features=groups)
    assert capsys.readouterr() == ("", "")
    assert not [r for r in caplog.records if r.name.startswith("fairif_sklearn")]


def test_records_reach_the_users_handlers_once(data, capsys, caplog):
    """A handler the user configured on the root (here to stderr) gets the records by propagation; FairIF
    then prints nothing of its own, so nothing is shown twice."""
    X, y, groups = data
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            FairIFClassifier(small_net(X.shape[1]), verbose=1, random_state=0).fit(
                X, y, sensitive_features=groups
            )
    finally:
        root.removeHandler(handler)
    out, err = capsys.readouterr()
    assert "[FairIF]" not in out
    assert err.count("INFO fairif_sklearn._estimators._stage1 [FairIF] ERM fit on") == 1
    records = [r for r in caplog.records if r.name.startswith("fairif_sklearn.")]
    assert records and all(r.levelno == logging.INFO for r in records)
    assert records[0].getMessage().startswith("[FairIF] ERM fit on")


def test_cv_verbose_shows_its_messages(data, capsys):
    X, y, groups = data
    inner = FairIFClassifier(small_net(X.shape[1]), random_state=0)
    FairIFClassifierCV(inner, cv=2, max_rounds=1, closures=(1.0,), verbose=1).fit(
        X, y, sensitive_features=groups
    )
    out = capsys.readouterr().out
    assert "[FairIFClassifierCV] fold 1/2" in out and "[FairIFClassifierCV] chosen:" in out
    assert "[FairIF] ERM fit" not in out  # the inner estimator is silent, as before


def test_nested_users_share_one_handler():
    from fairif_sklearn._runtime import _shown_on_terminal

    logger = logging.getLogger("fairif_sklearn")
    before = list(logger.handlers)
    with _shown_on_terminal():
        inside = list(logger.handlers)
        with _shown_on_terminal():
            assert logger.handlers == inside
    assert len(inside) == len(before) + 1 and logger.handlers == before
    assert logger.level == logging.NOTSET


# ------------------------------------------------------------ a NaN loss that is not divergence


class _TwoOutputs(torch.nn.Module):
    """A linear layer to two outputs: logits, or probabilities with ``softmax=True``."""

    def __init__(self, n_features=10, softmax=False):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 2)
        self.softmax = softmax

    def forward(self, X):
        out = self.linear(X)
        return torch.softmax(out, dim=-1) if self.softmax else out


def _plain_net(**kw):
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(_TwoOutputs, max_epochs=2, lr=0.1, train_split=None, verbose=0, **kw)


def test_logits_under_skorchs_default_nll_loss_is_named_as_the_cause(data):
    # skorch gives NLLLoss the log of the module's output: logits make the loss NaN from the first
    # batch; "a smaller learning rate" would send the user the wrong way
    X, y, groups = data
    X = X.astype(np.float32)
    with pytest.raises(
        FloatingPointError,
        match=r"The ERM fit diverged: .*NLLLoss.*not probabilities "
        r"\(some are negative\).*criterion=torch.nn.CrossEntropyLoss",
    ) as error:
        FairIFClassifier(_plain_net(), random_state=0).fit(X, y, sensitive_features=groups)
    assert "smaller learning rate" not in str(error.value)
    # the two fixes it names both fit
    FairIFClassifier(_plain_net(criterion=torch.nn.CrossEntropyLoss), random_state=0).fit(
        X, y, sensitive_features=groups
    )
    FairIFClassifier(_plain_net(module__softmax=True), random_state=0).fit(X, y, sensitive_features=groups)
    # a net trained that way outside FairIF is named the same way when given as trained
    trained = _plain_net().fit(X[np.isnan(groups)], y[np.isnan(groups)])
    with pytest.raises(FloatingPointError, match=r"FrozenEstimator\) diverged: .*NLLLoss.*not probabilities"):
        FairIFClassifier(FrozenEstimator(trained), random_state=0).fit(X, y, sensitive_features=groups)
    # and a plain weighted fit says it too, rather than returning a net that predicts NaN
    with pytest.raises(FloatingPointError, match=r"The weighted fit diverged: .*NLLLoss.*not probabilities"):
        WeightedNetClassifier(_plain_net()).fit(X, y, sample_weight=np.ones(len(y)))


def test_a_net_on_cuda_without_cuda_says_so(data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X, y, groups = data
    with pytest.raises(
        ValueError, match=r"device is 'cuda', but this torch has no CUDA device.*device='cpu'"
    ):
        FairIFClassifier(small_net(device="cuda"), random_state=0).fit(X, y, sensitive_features=groups)
