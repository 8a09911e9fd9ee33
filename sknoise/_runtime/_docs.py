"""The estimators' docstrings: the attributes they share, and the assembly of a whole docstring
(its Parameters section comes from the parameter table)."""

from __future__ import annotations

from ._params import parameters_doc

__all__ = [
    "COMMON_ATTRIBUTES_DOC",
    "CLASSIFIER_ATTRIBUTES_DOC",
    "REGRESSOR_ATTRIBUTES_DOC",
    "estimator_docstring",
]

CLASSIFIER_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    temperature_ : float
        The temperature of the probabilities (1 without calibration).
    class_prior_ : ndarray of shape (n_classes,)
        Class shares of every row ``fit`` (and ``partial_fit``) was given; the EBM's
        prior ``π`` and the ``'balanced'`` decision's reference."""

REGRESSOR_ATTRIBUTES_DOC = """\
    n_outputs_ : int
        Number of targets (columns of ``y``).
    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        The (sample-weighted) mean and standard deviation of each target in ``fit``:
        the network learns the standardized targets and predictions come back in
        the units of ``y``.
    noise_floor_ : ndarray of shape (n_outputs_,)
        The data's noise variance, one for every row, that the model's own spread leaves
        unexplained on the calibration rows (their mean squared residual for a
        deterministic network).
    std_scale_ : ndarray of shape (n_outputs_,)
        The factor of the predictive standard deviation, fitted on the calibration rows.
    conformity_scores_ : ndarray of shape (n_calibration_rows, n_outputs_)
        Sorted ``|y - mean| / b(x)`` of the calibration rows, for :meth:`predict_interval`.
    interval_calibration_ : {'held-out', 'training', 'user'}
        The rows the spread was calibrated on: those early stopping held out, the
        training rows (no intervals until :meth:`conformalize`), or the user's."""

COMMON_ATTRIBUTES_DOC = """\
    n_features_in_ : int
        Number of features (columns) seen in fit.
    preprocessor_ : TablePreprocessor or None
        The fitted preprocessing (``preprocessing='auto'``, or a copy of the given
        TablePreprocessor); ``print`` it to see what it does with each column, and its
        ``transform`` gives the network's float32 input. None with ``preprocessing=None``.
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
        Device of the fitted network.
    noise_ : dict
        The training noise of the fit: ``noise``, ``noise_scale`` and the ``rule`` that
        set them (``noise='auto'`` chooses per table; the history records the noise of
        every epoch too).
    n_members_ : int
        Number of ensemble members trained."""


_LIFECYCLE_NOTE = """\
    Parameters that fix the trained network (its architecture, preprocessing, seeds,
    device, ...) need ``fit`` after a change: ``partial_fit`` refuses them. The
    parameter descriptions say which others ``partial_fit`` applies and which are read
    at prediction time."""


def estimator_docstring(cls, summary: str, body: str, task_attributes: str, *, extra_attributes: str = "",
                        see_also: str, notes: str = "", references: str, examples: str) -> str:
    """A leaf estimator's numpydoc docstring, its Parameters section in its signature's order, from the table."""
    sections = [
        f"{summary}\n\n{body.rstrip()}\n",
        f"    Parameters\n    ----------\n{parameters_doc(cls, cls._parameter_names())}\n",
        f"    Attributes\n    ----------\n{task_attributes}\n{COMMON_ATTRIBUTES_DOC}"
        + (f"\n{extra_attributes}" if extra_attributes else "") + "\n",
        f"    See Also\n    --------\n{see_also.rstrip()}\n",
    ]
    notes = f"{notes.rstrip()}\n\n{_LIFECYCLE_NOTE}" if notes else _LIFECYCLE_NOTE
    sections.append(f"    Notes\n    -----\n{notes}\n")
    sections += [f"    References\n    ----------\n{references.rstrip()}\n",
                 f"    Examples\n    --------\n{examples.rstrip()}\n    "]
    return "\n".join(sections)
