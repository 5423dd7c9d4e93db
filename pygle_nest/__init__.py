"""pygle-nest: Generalized Latent Equilibrium (GLE) networks in the NEST simulator.

``pygle_nest.install()`` loads the GLE models into the running NEST kernel; in a plain NEST
script ``nest.Install(pygle_nest.module_path())`` does the same.
"""

from . import checkpoint
from .builder import (AllToAllConnector, ArrayConnector, FixedProbabilityConnector, FromListConnector,
                      FromMatrixConnector, Group, Network, OneToOneConnector)
from .module import install, module_path
from .network import NetworkSpec
from .parallel import stop_all_ranks_on_error
from .parameters import ACTIVATIONS, LOSSES, OPTIMIZERS, RECEPTORS, ROLES
from .reference import ReferenceNetwork
from .training import PlateauSchedule, Trainer

__version__ = "0.1.0"

__all__ = ["install", "module_path", "stop_all_ranks_on_error", "Network", "Group", "AllToAllConnector",
           "OneToOneConnector", "FixedProbabilityConnector", "FromMatrixConnector", "FromListConnector",
           "ArrayConnector", "Trainer", "PlateauSchedule", "checkpoint", "NetworkSpec", "ReferenceNetwork",
           "ACTIVATIONS", "LOSSES", "OPTIMIZERS", "RECEPTORS", "ROLES", "__version__"]
