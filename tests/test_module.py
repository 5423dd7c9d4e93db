"""The module build (versions, cache, model check), loading it, and the README's NEST script."""

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nest
import pygle_nest
from pygle_nest import build

README = Path(__file__).resolve().parent.parent / "README.md"


def test_expected_models_are_read_from_the_nestml_files():
    assert "gle_neuron" in build.expected_models()
    assert set(build.expected_models()) == set(pygle_nest.module.models())


def test_wrong_versions_are_refused(monkeypatch):
    monkeypatch.setattr(build.importlib.metadata, "version", lambda dist: "3.9.0")
    with pytest.raises(build.BuildError, match=r"nest-simulator==3.10.0 is required .* found 3.9.0"):
        build.check_versions()


def test_unchanged_module_is_not_rebuilt(tmp_path):
    log = io.StringIO()
    path = build.build(tmp_path, log=log)
    assert "module up to date" in log.getvalue()
    assert Path(path).read_bytes() == Path(pygle_nest.module_path()).read_bytes()


def test_compiler_flags_enter_the_cache_key(monkeypatch):
    """A module built with other CXXFLAGS (say -march=native) is another module."""
    info = {"prefix": "", "have_mpi": False, "pkg": ""}
    monkeypatch.delenv("CXXFLAGS", raising=False)
    plain = build.input_hash(info)
    monkeypatch.setenv("CXXFLAGS", "-march=native")
    assert build.input_hash(info) != plain


def test_a_missing_model_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "expected_models", lambda: ["gle_neuron", "gle_missing_neuron"])
    with pytest.raises(build.BuildError, match=r"lacks the models \['gle_missing_neuron'\]"):
        build.verify_module(Path(pygle_nest.module_path()), "NESTML said: error in gle_missing_neuron")


def test_install_is_idempotent_and_survives_reset():
    nest.ResetKernel()
    pygle_nest.install()
    pygle_nest.install()
    assert "gle_neuron" in nest.node_models
    nest.ResetKernel()
    assert "gle_neuron" not in nest.node_models
    pygle_nest.install()
    nest.Create("gle_neuron")


def test_an_unbuilt_module_says_how_to_build_it(tmp_path, monkeypatch):
    """A source tree without the built module (a copy of the repository): the build hint, from
    install() and module_path() alike, not a bare missing models.json."""
    monkeypatch.setattr(pygle_nest.module, "MODULE_ROOT", tmp_path)
    for call in (pygle_nest.install, pygle_nest.module_path):
        with pytest.raises(FileNotFoundError, match="does not exist: build the module with `pip install .` or "
                                                    "`python -m pygle_nest build`"):
            call()


def test_readme_plain_nest_script():
    section = README.read_text().split("## A plain NEST script", 1)[1]
    script = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(script.strip().splitlines()) <= 15
    check = "\nimport numpy\nassert numpy.all(numpy.isfinite(mm.events['err'])) and numpy.ptp(mm.events['err']) > 0.01\nprint('ok')\n"
    out = subprocess.run([sys.executable, "-c", script + check], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_readme_builder_example(kernel):
    section = README.read_text().split("## Building networks from Python", 1)[1]
    script = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope = {}
    exec(script, scope)
    assert len(scope["h"].nodes) == 35 and len(scope["y"].nodes) == 10


def test_a_shared_state_written_per_lane_is_refused_at_build(tmp_path, monkeypatch):
    """A @homogeneous state (shared by the lanes) assigned in the update block would be lost
    without a word (the lanes' shared copy overwrites it): the build refuses it by name."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "shared_write_neuron.nestml").write_text("""model shared_write_neuron:
    state:
        total real = 0 @homogeneous
        x real = 0
        rate_out real = 0
        err_out real = 0
    input:
        fwd real <- continuous
    update:
        x = fwd
        total += x
        rate_out = x
""")
    monkeypatch.setattr(build, "MODELS_DIR", models)
    with pytest.raises(build.BuildError, match="shared_write_neuron assigns the @homogeneous state\\(s\\) total "
                                               "outside the function update_shared"):
        build._generate_and_compile(tmp_path / "work", build._nest_info())


def test_get_defaults_go_back_into_create(kernel):
    """What GetDefaults shows of the model's own status, read-only entries included, is taken
    back by Create (as PyNN's native_cell_type passes it) and gives the defaults again; NEST's
    own entries of every model are left out, as for NEST's models."""
    nest_entries = set(nest.GetDefaults("iaf_psc_alpha")) - set(nest.Create("iaf_psc_alpha").get())
    nest_entries |= {"element_type", "model", "model_id", "global_id", "local", "node_uses_wfr", "thread", "vp",
                     "frozen", "recordables", "receptor_types", "thread_local_id"}
    defaults = {k: v for k, v in nest.GetDefaults("gle_neuron").items() if k not in nest_entries}
    node = nest.Create("gle_neuron", 1, defaults)
    assert node.get("tau_m") == defaults["tau_m"] and node.get("bytes_per_lane") == defaults["bytes_per_lane"]
