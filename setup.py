"""pip install --no-build-isolation .  builds the GLE extension module and installs the package.

The module is built by pygle_nest/build.py (loaded by path: the package cannot be imported before
it is installed); a build whose inputs did not change is taken from the cache.
"""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithModule(build_py):
    """Builds the NEST extension module into pygle_nest/_module before packaging."""

    def run(self):
        spec = importlib.util.spec_from_file_location("pygle_nest_build", ROOT / "pygle_nest" / "build.py")
        build = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(build)
        build.build(ROOT / "pygle_nest" / "_module")
        super().run()


setup(
    name="pygle-nest",
    version="0.1.0",
    description="Generalized Latent Equilibrium (GLE) networks in the NEST simulator",
    long_description=(ROOT / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="GPL-2.0-or-later",
    python_requires=">=3.10",
    packages=["pygle_nest"],
    package_data={"pygle_nest": ["_module/*/*.so", "_module/*/models.json"]},
    install_requires=["nest-simulator==3.10.0", "nestml==9.0.0", "numpy", "scipy", "matplotlib", "tqdm",
                      "mnist1d==0.0.2.post1"],  # the default data of `python -m pygle_nest train`
    cmdclass={"build_py": BuildPyWithModule},
)
