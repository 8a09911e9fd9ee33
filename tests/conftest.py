"""Shared data for the test suite: small standardized built-in data sets (no downloads)."""

import os

import numpy as np
import pytest
from hypothesis import settings
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

# CI draws a fixed set of hypothesis examples (a failure there is reproducible); local runs
# keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _scaled_split(loader):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture(scope="session")
def iris():
    """Standardized iris, whole: (X, y)."""
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def iris_split():
    """Standardized iris: (X_train, X_test, y_train, y_test)."""
    return _scaled_split(load_iris)


@pytest.fixture(scope="session")
def breast_cancer_split():
    """Standardized breast cancer: (X_train, X_test, y_train, y_test)."""
    return _scaled_split(load_breast_cancer)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
