"""Every optimizer's docstring documents each of its own arguments.

The `Args:` section names every hyper-parameter the class declares (the
common Keras ones are documented once, on `ZooOptimizer`), the learning
rate among them with its default.
"""

import re

from keras_optim_zoo.core.base import COMMON_HYPERPARAMETERS


def _args_section(doc):
    assert doc and "    Args:" in doc, "no Args: section"
    start = doc.index("    Args:")
    end = doc.find("\n\n", start)
    return doc[start:] if end < 0 else doc[start:end]


def test_args_document_every_declared_hyperparameter(optimizer_class):
    args = _args_section(optimizer_class.__doc__)
    documented = set(re.findall(r"^        (\w+):", args, re.MULTILINE))
    own = {
        k
        for k in optimizer_class._all_hyperparameters
        if k not in COMMON_HYPERPARAMETERS
        or k in optimizer_class.hyperparameters
    }
    assert own | {"learning_rate"} <= documented, sorted(
        own | {"learning_rate"} - documented
    )
    lr = re.search(
        r"^        learning_rate:(.*?)(?=^        \w+:|\Z)", args, re.S | re.M
    ).group(1)
    default = optimizer_class.default_learning_rate
    assert re.search(r"Defaults\s+to\s+`([^`]*)`", lr), lr
    value = re.search(r"Defaults\s+to\s+`([^`]*)`", lr).group(1)
    assert float(value) == default, (value, default)
