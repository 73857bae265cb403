"""rnnlab: exact recurrent sequence models, honest comparisons and diagnostics.

Subpackages, in the one direction data flows:
``nn`` (cells, layers, engines) -> ``data`` -> ``models`` -> ``train`` -> ``compare``
-> ``diagnose`` -> ``report``. ``nn`` imports nothing else of rnnlab.
"""

from rnnlab.errors import RnnlabError, UserInputError

__version__ = "0.1.0"

__all__ = ["RnnlabError", "UserInputError", "__version__"]
