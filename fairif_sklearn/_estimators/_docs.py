"""The parameter and attribute descriptions the FairIF estimators share.

Each public class documents every parameter on its own page; the text is
written once here and put in place by :func:`fill_doc`.
"""

from __future__ import annotations

PARAMETERS = """\
    estimator : skorch.NeuralNetClassifier, skorch.NeuralNetBinaryClassifier or FrozenEstimator
        The net; it is cloned and fitted by ERM, never modified. A net that is
        already trained, wrapped in :class:`sklearn.frozen.FrozenEstimator`
        (as :class:`~sklearn.calibration.CalibratedClassifierCV` takes a prefit
        model), is the ERM model itself: no ERM fit happens, stage 1 reads it and
        stage 2 fine-tunes a copy (the paper's section 5.3). Either way the
        net is never modified.
    X_val, y_val, sensitive_val : array-like, default=None
        A fixed annotated set. An annotated set given here does not go through
        a :class:`~sklearn.pipeline.Pipeline`'s preprocessing (a warning says
        so when ``X_val`` is clearly not on ``X``'s scale); in a Pipeline pass
        ``sensitive_features`` to :meth:`fit` instead. Give one or the other.
    tolerance : "auto" or float, default="auto"
        When a gap is chased and how far it is closed. ``"auto"``: a gap is
        chased only when it is beyond its noise, more than ``z`` standard errors
        from zero (``z`` the two-sided 5% level over all the gaps at once, 2.24
        for two gaps) and more than 1e-6 (the float32 rounding of the soft
        rates); when one is, the weights are the smallest change whose
        predicted gaps are all within one standard error. A number ``t``: gaps
        beyond ``t`` are chased and closed to within ``t``; ``0`` closes them
        fully, ``np.inf`` keeps the ERM model. See the user guide.
    levelling : {"up", "any"}, default="up"
        How a gap may close. ``"up"``: by raising the lower side; to first
        order no group's rate (each true-positive and true-negative rate, or
        the target's rates) falls by more than its standard error on the
        annotated set, counted from the ERM model in every round (the rounds'
        allowances do not add up), so the better-off group is not made
        measurably worse to close a gap. When no weights close every chased gap that way, the
        weights close what can be closed (a warning says how much; the share is
        ``rounds_``' ``"closure"``). ``"any"``: any mix of raising the lower
        rate and lowering the higher one, whichever needs the smallest change
        of weights (more of the gap closed, often by levelling down). In both,
        a chased gap ends between zero and the near edge of its band, never
        past zero, and a gap that is not chased may not cross zero or grow
        beyond ``max(|gap|, band)``; after the fine-tune, a round that left a
        gap larger than it started (beyond its standard error), or with
        ``"up"`` lowered the lower side of a chased gap or the lowest group's
        rate (beyond its standard error), is shortened towards the previous
        model or rejected (``rounds_``' ``"step"``). The
        penalty form (``alpha``) does not use it. See the user guide.
    closure : float in (0, 1], default=1.0
        How much of the way from where it is to the near edge of its band each
        chased gap is closed: 1 all the way, 0.5 half of it. Smaller values
        change the weights less and cost less accuracy; they are the points of
        :class:`FairIFClassifierCV`'s trade-off path. The penalty form
        (``alpha``) does not use it.
    alpha : float or None, default=None
        Solve the paper's penalty form instead of the bound: the weights
        minimise the squared remaining gaps plus ``alpha * ||w - 1||^2 / n``
        (the paper's lambda in a form that does not depend on the number of
        rows; smaller closes more of the gaps with larger weights).
        ``tolerance`` still decides whether a gap is chased at all.
    target : {"equalized_odds", "equal_opportunity", "demographic_parity", "accuracy_parity"}, \
default="equalized_odds"
        What to balance between the groups: TPR and TNR (the paper's choice;
        judged by AOD), TPR only (EOD), the rate of positive predictions (DPD),
        or the accuracy (AD). With more than two classes: every class's recall,
        the recall of the ``pos_label`` classes, the rate at which each
        ``pos_label`` class is predicted, or the accuracy.
    pos_label : label or list of labels, default=None
        The positive class: with two classes, the larger label when None; with
        more, the class (or classes) that equal opportunity and demographic
        parity are about (needed for those two targets).
    retrain : {"finetune", "scratch", "warm_start"}, default="finetune"
        How stage 2 trains with the weights: the proximal Bregman fine-tune from
        the ERM model, whose response influence predicts (see the user guide);
        a fresh clone trained from scratch with the ERM fit's seed (the paper's
        choice); or plain continued training of the ERM model.
    finetune_epochs : "auto" or int, default="auto"
        Epochs of the fine-tune; its iterates over the last epoch are averaged.
        ``"auto"`` is one epoch, with either ``finetune_solver`` (on a ResNet,
        held out, five epochs of Nesterov's closed the gaps by lowering the
        better-off group's rate; the results page).
    finetune_solver : {"auto", "net", "nesterov"}, default="auto"
        The fine-tune's optimizer (with ``retrain="finetune"``): the net's own
        (``"net"``), fresh, at its learning rate; or Nesterov's accelerated
        gradient (``"nesterov"``) with a step and momentum set by the curvature
        that stage 1 measured (step ``1 / L``, ``L = max(w) lambda + mu``:
        ``lambda`` the curvature's largest eigenvalue, ``mu`` the proximal
        strength; momentum ``(sqrt(k) - 1) / (sqrt(k) + 1)``), whose move is
        proportional to the change of weights, as influence's prediction is.
        ``"auto"``: Nesterov's on a net with BatchNorm layers, the net's own
        otherwise. An adaptive optimizer such as Adam moves each parameter by
        about its learning rate per step whatever the size of the gradient: on
        a ResNet with BatchNorm it moved the gaps many times further than
        influence predicted and stage 2's check rejected the first round on
        every seed of four, where Nesterov's kept the rounds and levelled up;
        on the MLPs the net's own did as well or better, held out over ten
        seeds (the results page, "The fine-tune's optimizer"). With a given
        ``damping``, Nesterov's costs stage 1 an estimate of that eigenvalue
        (four block-Lanczos steps).
    max_rounds : "auto" or int, default="auto"
        Rounds of reweighting: after stage 2, a gap still beyond its noise is
        measured again at the new model, influence re-linearised there, and
        the weights solved again, up to this many rounds. ``"auto"``: a second
        round only when the first round's fine-tune realised less than half of
        the change influence predicted for some chased gap
        (``materialization_``: the first-order prediction did not hold over
        that step); :class:`FairIFWeigher`, which trains no stage 2, runs one.
    influence : {"auto", "exact", "last_layer", "cg"}, default="auto"
        How the inverse-curvature products are computed: the full matrix solved
        exactly (small models), the exact solve restricted to the final linear
        layer, or conjugate gradient. ``"auto"`` is exact up to 256 parameters
        and CG beyond.
    curvature : {"gauss_newton", "hessian"}, default="gauss_newton"
        The generalised Gauss-Newton matrix (always positive semi-definite, the
        curvature of the fine-tune's objective) or the Hessian of the training
        objective (the paper's; often indefinite for a network).
    damping : "auto" or float, default="auto"
        Added to the curvature's diagonal, on top of the optimizer's weight
        decay, and the strength of the fine-tune's proximal term. ``"auto"``:
        2% of the curvature's largest eigenvalue, estimated by block Lanczos
        (with CG on the Gauss-Newton matrix, the default beyond 256
        parameters, CG's first iterations are those Lanczos steps, started from
        the rate gradients; otherwise four steps of four random vectors); the
        value used is ``damping_``.
    temperature : float or "auto", default=1.0
        Temperature of the softmax behind the soft rates. A higher one keeps
        the probabilities further from 1, where the rates' response to the
        weights saturates: measured on held-out annotated rows, 3 closes more
        of CI-MNIST's group-shift gap and lowers Adult's worst cell (the
        results page, "The soft rates' temperature"). ``"auto"``: chosen at
        the ERM model, from 1 to 16, where the annotated rows' soft
        true-class probabilities respond most, on average, to the model's
        log-probabilities (the mean of ``p (1 - p) / temperature``): 1 on a
        model that is not confident (Adult), 3 to 4.8 on CI-MNIST's MLP, where
        held out it closed more of group shift's gaps but lowered class size's
        worst cell (the results page, "The temperature chosen at the ERM
        model"). The value used is ``temperature_``.
    later_temperature : float, "auto" or "same", default="auto"
        The soft rates' temperature of the rounds after the first
        (``max_rounds``). ``"auto"``: chosen afresh, as ``temperature="auto"``
        chooses it, at the model the previous round ended at; the round's gaps,
        their bands and the ERM model's rates that its allowances count from
        are measured again at it. ``"same"``: the first round's (the earlier
        default). By default a second round runs only where the first
        realised less than half of its predicted change ("auto" chose 4.2 to
        4.8 for it on CI-MNIST's MLP). Measured held out on CI-MNIST's group shift,
        ``"auto"`` cut AOD by 53% against 42% with ``"same"``, for 0.10
        accuracy points, the worst cell 0.5 points higher, and on the test
        split -54% against -44% (the results page, "A second round at the
        responsive temperature" and "CI-MNIST, every method").
        Each round's value is in ``rounds_``.
    curvature_subsample : "auto", int, float or None, default="auto"
        Estimate the curvature on this many training rows (a float: this
        fraction), drawn at random; ``"auto"`` is 5000 rows (1000 on a net with
        convolutions, see the user guide), None all rows.
    cg_tol : float, default=1e-2
        Relative residual at which CG stops.
    cg_maxiter : int, default=100
        Most CG iterations.
    holdout_annotated : bool, default=True
        With ``sensitive_features``, keep the annotated rows out of training (the
        paper's protocol); their weight in ``sample_weight_`` is zero.
    memory : str, joblib.Memory or None, default=None
        Cache the ERM fit and the influence computation, which do not depend on
        the weight solve's parameters (``tolerance``, ``alpha``) or on stage 2's,
        as :class:`~sklearn.pipeline.Pipeline` caches transformers. A grid
        search over those then costs one ERM fit and one influence computation
        per fold, with the same results. The ERM fit is cached apart, so fits
        that differ in their annotated set alone share it. A string is a cache
        folder. The cache's keys include a digest of this package's code, so
        a cache written by another version is not read back.
    batch_size : int, default=1024
        Rows per batch in stage 1.
    random_state : int, RandomState or None, default=None
        Seeds the fits (initialisation, shuffling) and the curvature subsample.
    verbose : int, default=0
        1 prints the stages (records of the ``fairif_sklearn`` logger, shown on
        stdout; see the user guide's *Progress messages and logging*) and shows
        progress bars. The net's own ``verbose`` controls its epoch table.
    hessian_subsample : int, float or None, default="deprecated"
        Deprecated: the old name of ``curvature_subsample`` (it subsamples the
        Gauss-Newton matrix too); it will be removed in a future release."""

ATTRIBUTES = """\
    erm_estimator_ : skorch net
        The net fitted by ERM.
    sample_weight_ : ndarray of shape (n_samples,)
        One weight per row of the ``X`` given to ``fit``: never negative, mean
        one over the training rows, zero for annotated rows held out of training
        (all ones on the training rows when the ERM model was kept). With a
        ``sample_weight`` given to ``fit``, the weights of the final fit, which
        include it (those weights scaled to mean one when the ERM model was
        kept; zero where it is zero).
    influence_scores_ : ndarray of shape (n_gaps, n_train)
        ``a_{F,i}``: up-weighting training row ``i`` by ``u_i`` changes gap ``F``
        by about ``-a_{F,i} * u_i / n_train``.
    gaps_ : ndarray of shape (n_gaps,)
        The soft-rate gaps on the annotated set at the ERM model.
    gaps_stderr_ : ndarray of shape (n_gaps,)
        Each gap's standard error over the draw of the annotated rows.
    gaps_threshold_ : ndarray of shape (n_gaps,)
        The noise threshold: gaps within it are not chased.
    rate_names_ : list of str
        A name per (rate, group) cell, e.g. ``"TPR(0)"``; the gaps are
        differences of these rates.
    group_rates_ : ndarray of shape (n_cells,)
        Each cell's soft rate on the annotated set at the ERM model.
    group_rates_stderr_ : ndarray of shape (n_cells,)
        Their standard errors over the draw of the annotated rows.
    predicted_group_rates_ : ndarray of shape (n_cells,)
        The rates the last weight solve at ``temperature_`` predicts (to first
        order), on the scale of ``group_rates_``: with ``levelling="up"`` none
        is below ``group_rates_`` by more than ``group_rates_stderr_``. A later
        round at another temperature (``later_temperature``) predicts soft
        rates of another scale; its prediction is in ``rounds_``.
    reweighted_ : bool
        False when every gap was within its threshold and the ERM model was kept.
    predicted_gaps_ : ndarray of shape (n_gaps,)
        The gaps the last weight solve at ``temperature_`` predicts (to first
        order), on the scale of ``gaps_`` and ``final_gaps_`` (a later round's
        at another temperature is in ``rounds_``).
    materialization_ : ndarray of shape (n_gaps,)
        The first round's realised change of each gap on the annotated set over
        its predicted change (NaN without stage 2).
    rounds_ : list of dict
        Per round: the gaps and the cells' rates it started from
        (``"gaps"``, ``"rates"``), the prediction (``"predicted_gaps"``,
        ``"predicted_rates"``), the gaps and rates after stage 2
        (``"final_gaps"``, ``"final_rates"`` and their standard errors
        ``"final_rates_stderr"``), ``"materialization"``, the share
        of the way to the bands that the constraints allowed (``"closure"``),
        the step taken towards the fine-tune after the realised check
        (``"step"``: 1 in full, 0 rejected) and the gaps and rates at the full
        step (``"full_step_gaps"``, ``"full_step_rates"``), the weights' spread
        (``"weight_std"``), ``"n_zero_weight"``, ``"solve_converged"``, the
        fine-tune's optimizer and epochs (``"finetune_solver"``, ``"net"`` or
        ``"nesterov"``, and ``"finetune_epochs"``: ``finetune_solver`` and
        ``finetune_epochs`` resolved; None without the fine-tune), the soft
        rates' ``"temperature"`` (a round's figures are all at its own) and
        ``"round"``.
    damping_ : float
        The damping used.
    temperature_ : float
        The soft rates' temperature of stage 1 and the first round
        (``temperature="auto"`` resolved); the fitted ``gaps_`` and rates are at
        it (a later round's is in ``rounds_``).
    gap_names_ : list of str
        A name per gap, e.g. ``"TPR(1) - TPR(0)"``.
    groups_ : ndarray
        The group labels of the annotated set (tuples for several sensitive
        columns).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    train_mask_ : ndarray of bool of shape (n_samples,)
        The rows trained on.
    influence_info_ : dict
        Diagnostics of the first round's influence computation: ``"method"``
        (the back end used, ``influence="auto"`` resolved), ``"damping"``,
        ``"n_params"``, ``"n_directions"`` (the inverse-curvature solves: one
        per rate and group), ``"solver"``, ``"solver_n_iter"``,
        ``"solver_residual"``, ``"solver_converged"``,
        ``"negative_curvature"``, ``"min_eigenvalue"``, ``"n_curvature_rows"``,
        ``"n_curvature_products"`` (of the solve), ``"curvature_products"``
        (``'jvp'``, or ``'factors'`` on a net with convolutions: per-sample
        Gauss-Newton factors), ``"scores_method"`` (``'jvp'``, or
        ``'per_sample'`` on a net with convolutions), ``"gap_gradient_norm"``
        (one per gap), ``"largest_eigenvalue"`` and ``"n_damping_products"``
        (with ``damping="auto"``, or with the Nesterov fine-tune, whose
        step needs it: the curvature products spent on the estimate alone, 0
        when CG's first iterations made it) and ``"n_rounds"`` (the rounds of
        reweighting run).
    n_features_in_ : int
        Number of features (the second dimension of ``X``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names."""


FIT_SECTIONS = """\
        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs; integers, booleans and other floats are cast to float32.
        y : array-like of shape (n_samples,)
            Class labels (two or more classes).
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns), default=None
            Group labels aligned with ``X``, missing (None, NaN, -1 or pandas NA)
            for rows without one; the annotated rows form the annotated set.
            Several columns (a 2-D array or a DataFrame) or tuples define the
            groups as their combinations. Routed by scikit-learn's metadata
            routing (``set_fit_request(sensitive_features=True)``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows of ``X`` (survey or importance
            weights): the training rows' loss is weighted by them in the ERM fit,
            the curvature that influence inverts and the final fit, and each
            annotated cell's rate is their weighted mean (its standard error
            that of a weighted mean, unchanged by the weights' scale). FairIF's
            weights multiply them: ``sample_weight_`` holds the product. A row of
            weight zero is left out, as if absent.

        Returns
        -------
        self : {name}
            The fitted estimator."""


def fill_doc(cls: type) -> type:
    """Put the shared descriptions into the docstrings of ``cls`` and of its ``fit``."""
    doc = cls.__doc__.replace("    {{parameters}}", PARAMETERS)
    cls.__doc__ = doc.replace("    {{attributes}}", ATTRIBUTES)
    sections = FIT_SECTIONS.format(name=cls.__name__)
    cls.fit.__doc__ = cls.fit.__doc__.replace("        {{fit_sections}}", sections)
    return cls
