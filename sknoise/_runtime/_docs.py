"""Parameter and attribute documentation shared by the estimators' docstrings."""

from __future__ import annotations

import textwrap

__all__ = [
    "COMMON_PARAMETERS_DOC",
    "COMMON_ATTRIBUTES_DOC",
    "CLASSIFIER_ATTRIBUTES_DOC",
    "REGRESSOR_ATTRIBUTES_DOC",
    "CLASSIFIER_PARAMETERS_DOC",
    "EMBEDDING_PARAMETERS_DOC",
    "LABEL_SMOOTHING_DOC",
    "REGRESSOR_PARAMETERS_DOC",
    "parameters_doc",
]

COMMON_PARAMETERS_DOC = """\
    preprocessing : 'auto' or None, default='auto'
        ``'auto'``: the estimator takes the table as it is, a DataFrame with numeric,
        categorical (``category``, ``object``, ``string``, ``bool``) and missing values
        or an array. Numeric columns are median-imputed, get a missing-indicator
        column when they had missing values, and are scaled by ``numeric_scaling``;
        categories (a missing value is a category of its own) are one-hot encoded
        or embedded (see ``max_onehot``), and categories unseen in ``fit`` map to a
        reserved value at prediction time. The fitted transform is ``preprocessor_``;
        it pickles with the estimator. ``None``: ``X`` must already be numeric,
        finite and scaled (e.g. by your own pipeline), and goes to the network as it is.
    numeric_scaling : {{'robust', 'quantile', 'standard'}}, default={numeric_scaling!r}
        With ``preprocessing='auto'``: ``'robust'`` centres each numeric column on its
        median, divides by its interquartile range (scaled to the standard deviation
        of a normal column) and clips softly with ``z / sqrt(1 + (z/3)^2)``;
        ``'quantile'`` maps it through its quantiles to a standard normal;
        ``'standard'`` subtracts the mean and divides by the standard deviation.
    noise : str, callable or torch Distribution, default={noise!r}
        Distribution of the normalized noise ``z``; see :func:`sknoise.available_noises`
        (``'gaussian'``, ``'uniform'``, ``'laplace'``, ``'logistic'``, ``'cauchy'``,
        ``'gumbel'``, ``'rademacher'``, ``'none'``, and the multiplicative
        ``'dropout'`` and ``'gaussian_dropout'``). A callable
        ``fn(shape, generator=, device=, dtype=)`` or a scalar torch Distribution
        supplies custom noise (a fitted model pickles whenever it does).
    noise_scale : float, default={noise_scale!r}
        The noise scale ``α`` in ``t = s + α z``; for multiplicative kinds the drop
        rate, in ``[0, 1)``.
    inference_noise : None, 'same', str, callable or torch Distribution, default={inference_noise!r}
        Noise kept on at prediction time. ``None``: a deterministic network (noise
        replaced by its expectation). ``'same'``: the noise the model was trained with
        (changing ``noise`` or ``noise_scale`` after fit does not change it). Any other
        value: that distribution. With noise on, :meth:`predict_proba` averages
        ``n_inference_samples`` noisy passes. The passes use common random numbers:
        their draws are shared by all rows of a call, so a row's prediction depends on
        that row, the model and ``random_state`` only.
    inference_noise_scale : float or None, default=None
        Scale of the inference noise; ``None`` reuses the training scale.
    n_inference_samples : int, default={n_inference_samples!r}
        Number ``T`` of Monte-Carlo passes when inference noise is on.
    inference_memory_mb : float or None, default=None
        Memory budget of one vectorized chunk of Monte-Carlo passes, in MiB;
        ``None`` uses scikit-learn's ``working_memory`` setting (1024 by default).
        Chunks split the rows and, when one row's T passes exceed it, the passes.
        The inference parameters above are read at prediction time, so they can be
        changed on a fitted model with ``set_params``.
    noise_schedule : {{'constant', 'linear', 'exponential', 'cosine'}} or callable, default='constant'
        How every training noise scale (noise layers, noise injection nodes, the noisy
        activations' ``c``; not the ``dropout`` rate, a regularizer of its own) evolves
        over ``noise_schedule_epochs`` epochs: a factor going from 1 to
        ``noise_schedule_end``, or ``fn(epoch, n_epochs) -> factor``; see
        :func:`sknoise.noise_schedule_factor`. With early stopping, training never stops
        before the schedule's end. The history records ``noise_scale`` and
        ``noise_scale_factor`` per epoch.
    noise_schedule_end : float, default=0.0
        The factor reached on the last epoch by the built-in decaying schedules.
    noise_schedule_epochs : int or None, default=None
        Length of the schedule in epochs; ``None`` is ``max_epochs``.
    activation_mixing : float or None, default=None
        Mixing constant ``α`` of the noisy activations (``'nan_tanh'``, ...);
        ``None`` keeps the reference value of each variant.
    activation_noise_constant : float or None, default=None
        Noise constant ``c`` of the noisy activations; ``None`` keeps the reference value.
    optimizer : {{'adam', 'adamw', 'sgd', 'rmsprop'}} or torch optimizer class, default='adam'
        The optimizer: a name, or a ``torch.optim.Optimizer`` subclass called with
        ``lr`` and ``weight_decay``.
    lr : float, default={lr!r}
        Learning rate.{lr_why}
    weight_decay : float, default={weight_decay!r}
        L2 penalty passed to the optimizer.{weight_decay_why}
    momentum : float, default=0.9
        Momentum, used by ``'sgd'`` and ``'rmsprop'`` only.
    beta2 : float, default=0.999
        Decay of Adam's (and AdamW's) second-moment estimate; RealMLP uses 0.95.
    lr_schedule : {{'constant', 'cosine', 'flat_cosine'}}, default='constant'
        How ``fit`` moves the learning rate over a budget of ``max_epochs`` epochs:
        constant, a cosine from ``lr`` down to 0, or flat for the first half and a
        cosine over the second. Early stopping may end the fit first; ``partial_fit``
        trains at the constant ``lr``.
    batch_size : int or 'auto', default='auto'
        Rows per mini-batch; ``'auto'`` is ``min(256, n_rows)`` for the rows of each
        ``fit`` or ``partial_fit`` call.{batch_size_why}
    max_epochs : int, default={max_epochs!r}
        Passes over the training data (an upper bound with early stopping).
    early_stopping : bool, default={early_stopping!r}
        In ``fit``: hold out ``validation_fraction`` of the training rows (stratified by
        class where the class counts allow; with their sample weights), stop when the validation loss has not improved
        by ``tol`` (relative) for ``n_iter_no_change`` epochs, and restore the weights
        of the best epoch (``best_epoch_``), Ctrl-C included. ``partial_fit`` always
        trains one epoch on every row it is given.
    validation_fraction : float, default=0.1
        Share of the training rows held out for early stopping (and for the
        calibration that estimators make after training).
    n_iter_no_change : int, default={n_iter_no_change!r}
        Patience of early stopping: epochs without improvement before training stops.{n_iter_no_change_why}
    tol : float, default=1e-4
        Relative improvement of the validation loss that counts as one: below
        ``best * (1 - tol)``.
    n_members : int, default=1
        An ensemble in one module: this many independently initialized copies of the
        network (their own weights and noise draws), trained at once as batched
        matrix products, each on every row. Predictions average the members'
        probabilities (classifiers) or means (regressors); ``return_std`` reports the
        spread across members and Monte-Carlo passes together.
    device : {{'cpu', 'cuda', 'auto'}} or str, default='cpu'
        Torch device; ``'auto'`` picks CUDA when it is available.
    n_threads : int or None, default=None
        CPU threads torch uses while this estimator trains and predicts (torch's
        setting is restored afterwards); None leaves torch's setting, which inside
        joblib's workers (``GridSearchCV(n_jobs=...)``, ``cross_validate``) is each
        worker's share of the cores. On a machine busy with other work, 1 avoids
        oversubscription. While the estimator computes, denormal floats are flushed to
        zero (they slow CPU products several times); the setting is off again after.
    precision : {{'float32', 'bfloat16'}}, default='float32'
        Arithmetic of the forward passes in training and prediction. ``'bfloat16'``
        runs them under :func:`torch.autocast` to bfloat16: matrix products in
        bfloat16 (about twice the rate on recent GPUs, half the memory traffic), losses
        and the outputs used for predictions in float32, weights and optimizer state in
        float32. For large data on a GPU; bfloat16 keeps 8 bits of mantissa, so
        predictions differ from float32 ones in the third digit.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, the validation split and every
        noise draw (training and inference streams apart).
    verbose : int, default=0
        Print skorch's per-epoch table when positive.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (or ``(name, callback)`` tuples) for the training loop;
        skorch's own (``EpochScoring('roc_auc')``, ...) work on the net, whose labels
        are the encoded ``0..K-1`` (a regressor's targets are standardized).
    on_divergence : {{'raise', 'warn'}}, default='raise'
        What to do when training diverges (a NaN or inf loss, weights or optimizer
        state; heavy-tailed noise, a large scale or learning rate, or unscaled inputs):
        ``'raise'`` a :class:`sknoise.TrainingDivergedError` naming the settings (a
        failed ``fit`` leaves the estimator unfitted, a failed ``partial_fit`` leaves
        the model it had), or ``'warn'`` (:class:`sknoise.TrainingDivergedWarning`),
        stop, and keep the weights and optimizer state of the last finished epoch."""


CLASSIFIER_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    temperature_ : float
        The temperature of the probabilities (1 without calibration)."""

REGRESSOR_ATTRIBUTES_DOC = """\
    n_outputs_ : int
        Number of targets (columns of ``y``).
    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        The (sample-weighted) mean and standard deviation of each target in ``fit``:
        the network learns the standardized targets and predictions come back in
        the units of ``y``."""

COMMON_ATTRIBUTES_DOC = """\
    n_features_in_ : int
        Number of features (columns) seen in fit.
    preprocessor_ : TablePreprocessor or None
        The fitted preprocessing (``preprocessing='auto'``); None otherwise.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X was a DataFrame with string column names.
    net_ : skorch.NeuralNetClassifier or skorch.NeuralNetRegressor
        The trained skorch net; ``net_.module_`` is the torch module and
        ``net_.predict`` / ``net_.predict_proba`` work on arrays (without Monte-Carlo
        inference; a regressor's net predicts standardized targets).
    history_ : skorch.History
        Per-epoch training record (train_loss, valid_loss, dur, ...).
    loss_curve_ : list of float
        Training loss per epoch.
    validation_loss_curve_ : list of float or None
        Validation loss per epoch (with early stopping).
    best_loss_ : float or None
        The lowest training loss of the fit; None with early stopping (as scikit-learn's MLP).
    best_validation_loss_ : float or None
        The validation loss of the restored epoch; None without early stopping.
    best_validation_score_ : float or None
        ``score`` of the final model on the held-out rows; None without early stopping.
    best_epoch_ : int
        The (1-based) epoch whose weights the model holds: the best validation epoch
        with early stopping, the last epoch otherwise.
    n_iter_ : int
        Number of epochs run.
    device_ : str
        Device of the fitted network."""


def parameters_doc(why: dict[str, str] | None = None, numeric_scaling: str = "robust", **defaults) -> str:
    """The shared parameter documentation with an estimator's defaults and, where its
    default differs from the other estimators', the reason (``why[name]``)."""
    why = why or {}
    notes = {
        f"{name}_why": ("\n" + textwrap.fill(why[name], 84, initial_indent=" " * 8, subsequent_indent=" " * 8))
        if name in why else ""
        for name in ("lr", "weight_decay", "n_iter_no_change", "batch_size")
    }
    return COMMON_PARAMETERS_DOC.format(numeric_scaling=numeric_scaling, **defaults, **notes)



EMBEDDING_PARAMETERS_DOC = """\
    max_onehot : int, default=9
        With ``preprocessing='auto'``: categorical columns with at most this many
        categories are one-hot encoded; columns with more get a learned embedding
        (width growing with the cardinality, at most 16; categories unseen in ``fit``
        share a reserved code).
    numeric_embedding : {{'periodic'}} or None, default={numeric_embedding!r}
        ``'periodic'`` gives each numeric column (every column when
        ``preprocessing=None``) a learned periodic embedding (16 frequencies and a
        linear map to 16 features, as Gorishniy, Rubachev, Babenko, "On Embeddings
        for Numerical Features in Tabular Deep Learning", NeurIPS 2022,
        arXiv:2203.05556); None feeds the scaled numbers as they are.{numeric_embedding_why}"""

LABEL_SMOOTHING_DOC = """\
    label_smoothing : float, default=0.0
        Label smoothing of the cross-entropy: the target puts this much probability
        uniformly on all classes."""

CLASSIFIER_PARAMETERS_DOC = """\
    calibration : {{'temperature'}} or None, default={calibration!r}
        ``'temperature'``: after training, fit a temperature on the rows early stopping
        held out (the training rows without early stopping; each ``partial_fit`` call's
        rows) under the inference settings of that moment, so that ``predict_proba``
        is calibrated without a ``CalibratedClassifierCV`` wrapper: the largest
        temperature whose smoothed log loss is within one standard error of the best
        (``temperature_``; refit with :meth:`calibrate`). ``None``: temperature 1.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the training loss, multiplying any ``sample_weight``:
        a dict ``{{label: weight}}`` (missing labels weigh 1), or ``'balanced'`` for
        ``n_samples / (n_classes * count_k)`` computed on the (sample-weighted) labels of
        ``fit`` (``partial_fit`` takes dicts only: it cannot know the class shares)."""

REGRESSOR_PARAMETERS_DOC = """\
    loss : {'squared_error', 'huber'}, default='squared_error'
        Training loss on the standardized targets: squared error, or the Huber loss
        (quadratic within ``huber_delta`` standard deviations, linear beyond; for
        heavy-tailed targets).
    huber_delta : float, default=1.0
        Where the Huber loss turns linear, in standard deviations of the target."""
