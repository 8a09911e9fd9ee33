"""scikit-learn's common estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknoise import TablePreprocessor

from ._common import check_instances, expected_failed_checks


@parametrize_with_checks(check_instances(), expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@parametrize_with_checks([TablePreprocessor()])
def test_the_preprocessing_is_a_scikit_learn_transformer(estimator, check):
    check(estimator)
