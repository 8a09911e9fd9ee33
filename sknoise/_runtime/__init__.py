"""The skorch runtime behind the estimators (private): the net and its data path,
the training callbacks, validation, the task-agnostic estimator base and the task layers."""
