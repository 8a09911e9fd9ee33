"""The networks of the estimators as components (private): one module per architecture.

Each defines an :class:`~sknoise._runtime._architecture.Architecture`: how its network is
built, the parameters it adds (the parameter table's groups), its checks, callbacks and
fitted attributes. The estimators in ``sknoise._estimators`` pair one with a task layer.
"""

from ._ebm import EBMArchitecture
from ._mlp import MLPArchitecture
from ._ninr import NINRArchitecture

__all__ = ["EBMArchitecture", "MLPArchitecture", "NINRArchitecture"]
