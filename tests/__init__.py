import pytest

# Asserts in the shared helpers report the compared values, as the tests' own do: pytest
# rewrites a module's asserts only if told before the module is first imported.
pytest.register_assert_rewrite("tests.support")
