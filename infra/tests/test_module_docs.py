"""Each module's README lists every variable and output the module declares."""

import pytest

from hcl import MODULES, clean_key, load_dir, variables

MODULE_NAMES = sorted(p.name for p in MODULES.iterdir() if p.is_dir())


def test_the_nine_modules_exist():
    assert MODULE_NAMES == sorted(
        ["network", "registry", "alb", "service", "database", "cache", "storage", "monitoring", "iam"]
    )


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_readme_lists_variables_and_outputs(module):
    directory = MODULES / module
    for required in ("main.tf", "variables.tf", "outputs.tf", "README.md"):
        assert (directory / required).is_file(), f"{module}/{required} is missing"
    readme = (directory / "README.md").read_text()
    outputs = [clean_key(name) for block in load_dir(directory).get("output", []) for name in block]
    for name in list(variables(directory)) + outputs:
        assert f"`{name}`" in readme, f"{module}/README.md does not mention {name}"
    for name, body in variables(directory).items():
        assert body.get("description"), f"{module}: variable {name} has no description"
